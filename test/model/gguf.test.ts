// GGUF as llama.cpp reads it, written by ../shared/tools/make-model.mjs: the same weights from GGUF
// and from safetensors give the same greedy tokens; q8_0/q4_0 blocks dequantize within their
// rounding bound; the GGUF's own SentencePiece vocabulary reproduces the llama2-32k goldens.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadModel } from '../../src/model/load-model.js';
import { GgufFile } from '../../src/model/loaders/gguf.js';
import { SafetensorsFile } from '../../src/model/loaders/safetensors.js';
import { ReferenceBackend } from '../../src/kernels/reference/reference-backend.js';
import { dequantize, numel, toFloat32 } from '../../src/kernels/tensor.js';
import { TextGenerator } from '../helpers/text-generator.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import { ModelLoadError } from '../../src/util/errors.js';
import { makeModel } from '../helpers/make-model.js';
import { FIXTURES, readJson } from '../helpers/fixtures.js';

describe('GGUF from make-model.mjs', () => {
  let dir: string;
  let quant: string;
  before(() => {
    dir = makeModel(['--preset', 'llama-tiny-32k', '--layers', '2', '--format', 'both', '--gguf-type', 'f32', '--hf-dtype', 'f32', '--std', '0.08']);
    // llama-tiny-32k's ffn of 688 is not a multiple of 32: its q8_0 file is one llama.cpp refuses (below).
    quant = makeModel(['--preset', 'smollm2-135m-32k', '--layers', '1', '--format', 'both', '--gguf-type', 'q8_0', '--hf-dtype', 'f32']);
  });
  after(() => {
    for (const d of [dir, quant]) fs.rmSync(d, { recursive: true, force: true });
  });

  it('gives the same greedy tokens as the safetensors copy', async () => {
    const params = makeSamplingParams({ temperature: 0, maxTokens: 16, ignoreEos: true });
    const run = async (spec: string) => {
      const m = await loadModel(spec);
      const gen = new TextGenerator(new CausalLM(m.config, m.weights, new ReferenceBackend()), m.tokenizer);
      return { ids: m.tokenizer!.encode('The quick brown fox'), out: gen.complete(m.tokenizer!.encode('The quick brown fox'), params).tokenIds, m };
    };
    const gguf = await run(path.join(dir, 'model-f32.gguf'));
    const hf = await run(dir);
    assert.equal(gguf.m.format, 'gguf');
    assert.equal(gguf.m.config.rope!.style, 'interleaved');
    assert.deepEqual(gguf.ids, hf.ids);
    assert.deepEqual(gguf.out, hf.out);
    assert.ok(new Set(gguf.out).size > 3, 'a non-degenerate continuation');
  });

  it('keeps q8_0 and q4_0 blocks as stored and dequantizes them within the rounding bound', () => {
    for (const type of ['q8_0', 'q4_0'] as const) {
      const out = makeModel(['--preset', 'smollm2-135m-32k', '--layers', '1', '--format', 'both', '--gguf-type', type, '--hf-dtype', 'f32']);
      try {
        const g = GgufFile.open(path.join(out, `model-${type}.gguf`));
        const st = SafetensorsFile.open(path.join(out, 'model.safetensors'));
        const q = g.get('blk.0.attn_v.weight');
        assert.equal(q.dtype, type);
        const exact = toFloat32(st.read('model.layers.0.self_attn.v_proj.weight'));
        const deq = new Float32Array(numel(q.shape));
        dequantize(q, 0, deq.length, deq);
        for (let b = 0; b < deq.length / 32; b++) {
          let amax = 0;
          for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(exact[b * 32 + j]!));
          // q8_0 rounds to amax/127 steps (half a step of error); q4_0 to amax/8 steps with levels
          // clamped at +7, so a value opposite in sign to the block's extreme can lose a whole step.
          // Both add the f16 scale's relative rounding (2^-11) times the largest level.
          const step = type === 'q8_0' ? amax / 127 : amax / 8;
          const bound = step * (type === 'q8_0' ? 0.5 + 127 * 2 ** -11 : 1 + 8 * 2 ** -11) + 1e-7;
          for (let j = 0; j < 32; j++) assert.ok(Math.abs(deq[b * 32 + j]! - exact[b * 32 + j]!) <= bound, `${type} block ${b}`);
        }
        g.close();
        st.close();
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    }
  });

  it('refuses a q8_0 tensor whose rows are not whole blocks, naming it (llama.cpp refuses it too)', () => {
    const out = makeModel(['--preset', 'llama-tiny-32k', '--layers', '1', '--format', 'gguf', '--gguf-type', 'q8_0']);
    try {
      assert.throws(() => GgufFile.open(path.join(out, 'model-q8_0.gguf')), (e: Error) => {
        assert.ok(e instanceof ModelLoadError);
        assert.match(e.message, /tensor "blk\.0\.ffn_down\.weight" is Q8_0, whose rows are blocks of 32, but its rows have 688 elements/);
        return true;
      });
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('its SentencePiece vocabulary reproduces the llama2-32k goldens (merges derived from scores)', async () => {
    const m = await loadModel(path.join(quant, 'model-q8_0.gguf'));
    const golden = readJson(path.join(FIXTURES, 'tokenizers', 'llama2-32k', 'golden.json'));
    let n = 0;
    for (const c of golden.cases) {
      if (Object.keys(c).some((k) => k.endsWith('_DIFFER'))) continue;
      assert.deepEqual(m.tokenizer!.encode(c.text, { addSpecialTokens: false }), c.ids, JSON.stringify(c.text));
      assert.deepEqual(m.tokenizer!.encode(c.text), c.ids_with_bos);
      n++;
    }
    assert.ok(n > 250);
  });
});
