// Random weights of a config's exact shapes (--load-format dummy): MoE layers get all their experts
// and DeepSeek's dense first layers stay dense; latent attention gets its own projections; gpt-oss's
// experts are MXFP4; the model runs through the decoder.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { dummyWeights } from '../../src/model/loaders/dummy.js';
import { readHfConfig } from '../../src/model/loaders/hf-folder.js';
import { countParams } from '../../src/calc/model-math.js';
import { numel } from '../../src/kernels/tensor.js';
import type { ModelWeights } from '../../src/model/weights.js';
import { ReferenceBackend } from '../../src/kernels/reference/reference-backend.js';
import { SequenceContext } from '../helpers/sequence-context.js';
import { modelDir } from '../helpers/fixtures.js';

// Every float the weights hold, each distinct tensor once.
function storedParams(w: ModelWeights): number {
  const seen = new Set<unknown>();
  let n = 0;
  const visit = (x: unknown): void => {
    if (x === null || typeof x !== 'object' || seen.has(x)) return;
    seen.add(x);
    if (x instanceof Float32Array) { n += x.length; return; }
    if ('dtype' in x && 'shape' in x && 'data' in x) { n += numel((x as { shape: number[] }).shape); return; }
    for (const v of Object.values(x)) visit(v);
  };
  visit(w);
  return n;
}

for (const name of ['deepseek-v3', 'qwen2moe', 'gpt-oss']) {
  it(`${name}: dummy weights hold the config's parameter count and run`, () => {
    const c = readHfConfig(modelDir(name));
    const w = dummyWeights(c, 7);
    // Vectors the count leaves out: DeepSeek's correction bias; gpt-oss's and Qwen's biases and sinks.
    const extra = w.layers.reduce((s, l) => s + (l.moe?.scoreBias?.length ?? 0) + (l.sinks?.length ?? 0), 0);
    if (name === 'deepseek-v3') {
      assert.equal(storedParams(w) - extra, countParams(c).total);
      assert.ok(w.layers[0]!.mlp && !w.layers[0]!.moe && w.layers[1]!.moe?.experts.length === 8);
    }
    // gpt-oss's experts come as its checkpoints ship them.
    if (name === 'gpt-oss') assert.ok(w.layers.every((l) => l.moe!.experts.every((e) => e!.gate!.dtype === 'mxfp4' && e!.down.dtype === 'mxfp4')));
    assert.ok(w.layers.every((l, i) => (l.moe ? l.moe.experts.length === c.moe!.numExperts : i < (c.moe?.firstMoeLayer ?? 0))));
    const ctx = new SequenceContext(new CausalLM(c, w, new ReferenceBackend()), 8);
    const logits = ctx.eval([1, 2, 3]);
    assert.equal(logits.length, c.vocabSize);
    assert.ok(logits.every(Number.isFinite));
  });
}
