// `tsllm quantize preset:NAME`: a dummy shape written as llama.cpp's converter writes its architecture.
// Small configs of the gemma2, gemma3 and phi3 fixtures go through the same writer and come back from
// the GGUF loader as the same model: every family field, llama.cpp's tensor names (the bench runs
// llama.cpp itself on the full presets), and a forward pass.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, it } from 'node:test';
import { presetSource } from '../../src/model/quantize/preset-source.js';
import { quantizeModel } from '../../src/model/quantize/quantize-model.js';
import { loadModel } from '../../src/model/load-model.js';
import { readHfConfig } from '../../src/model/loaders/hf-folder.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { ReferenceBackend } from '../../src/kernels/reference/reference-backend.js';
import { SequenceContext } from '../helpers/sequence-context.js';
import { modelDir } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/make-model.js';

const dir = tempDir();
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const FIELDS = ['architecture', 'vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim',
  'slidingWindow', 'slidingLayers', 'attnSoftcap', 'finalSoftcap', 'embedScale', 'sandwichNorms', 'qkNorm', 'mlp', 'tieEmbeddings'] as const;

for (const name of ['gemma2', 'gemma3', 'phi3']) {
  it(`${name}'s shape written as a GGUF reads back as the same model`, async () => {
    const c = readHfConfig(modelDir(name));
    // Phi-3's LongRoPE factors are not written (the presets leave them out): compare without them.
    const config = name === 'phi3' ? { ...c, rope: { ...c.rope!, scaling: null } } : c;
    const file = path.join(dir, `${name}.gguf`);
    await quantizeModel(presetSource(name, config), file, { type: 'F32', threads: 1 });
    const m = await loadModel(file);
    for (const f of FIELDS) assert.deepEqual(m.config[f], config[f], `${name} ${f}`);
    assert.equal(m.config.rope!.rotaryDim, config.rope!.rotaryDim);
    // GGUF stores the query scale in float32.
    if (config.attnScale !== undefined) assert.equal(m.config.attnScale, Math.fround(config.attnScale));
    assert.equal(m.config.localRope?.theta, config.localRope?.theta);
    if (config.sandwichNorms) assert.ok(m.weights.layers.every((l) => l.postAttnNorm && l.postMlpNorm));
    const logits = new SequenceContext(new CausalLM(m.config, m.weights, new ReferenceBackend()), 8).eval([1, 2, 3]);
    assert.ok(logits.length === config.vocabSize && logits.every(Number.isFinite));
  });
}
