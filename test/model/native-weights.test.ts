// Weights as the native backend uses them: GGUF and safetensors tensors are views into one read-only
// memory map of the file (no JavaScript copy), and --quantization re-encodes Hugging Face weights as
// llama.cpp's quantizer writes them (checked against make-model.mjs's own GGUF, written from the same
// numbers by an independent implementation).

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fs from 'node:fs';
import { loadModel } from '../../src/model/load-model.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { NativeBackend } from '../../src/kernels/native/native-backend.js';
import { SequenceContext } from '../helpers/sequence-context.js';
import { argmax } from '../../src/engine/sampling/logprobs.js';
import { dequantize, numel, type WeightTensor } from '../../src/kernels/tensor.js';
import { makeModel } from '../helpers/make-model.js';
import { nativeAddon } from '../helpers/backends.js';
import { tsllm } from '../helpers/cli.js';

const addon = nativeAddon();

describe('weights for the native backend', { skip: !addon }, () => {
  let dir: string;
  before(() => {
    // smollm2's dimensions are multiples of 32, so every matrix is quantizable row by row as llama.cpp requires.
    dir = makeModel(['--preset', 'smollm2-135m-32k', '--layers', '2', '--format', 'both', '--gguf-type', 'q8_0', '--hf-dtype', 'f32']);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('GGUF and safetensors tensors are views into one memory map of the file', async () => {
    for (const file of [path.join(dir, 'model-q8_0.gguf'), dir]) {
      const m = await loadModel(file, { loadFormat: file === dir ? 'safetensors' : 'auto' });
      const buffers = new Set([m.weights.embed, m.weights.lmHead, m.weights.layers[0]!.q, m.weights.layers[1]!.mlp!.down].map((t) => t.data.buffer));
      assert.equal(buffers.size, 1, 'all tensors share one buffer');
      const size = fs.statSync(file === dir ? path.join(dir, 'model.safetensors') : file).size;
      assert.equal([...buffers][0]!.byteLength, size, 'the buffer is the whole file');
    }
  });

  it('reads the same bytes with the map as without it', async () => {
    const file = path.join(dir, 'model-q8_0.gguf');
    const mapped = await loadModel(file);
    process.env.TSLLM_NO_MMAP = '1';
    try {
      const copied = await loadModel(file);
      assert.notEqual(copied.weights.embed.data.buffer, mapped.weights.layers[0]!.q.data.buffer);
      assert.deepEqual(copied.weights.layers[1]!.mlp!.gate!.data, mapped.weights.layers[1]!.mlp!.gate!.data);
    } finally {
      delete process.env.TSLLM_NO_MMAP;
    }
  });

  it('hands the pages of a packed q8_0 weight back to the OS and still reads the same bytes', async () => {
    const file = path.join(dir, 'model-q8_0.gguf');
    const mapped = await loadModel(file);
    process.env.TSLLM_NO_MMAP = '1';
    const copied = await loadModel(file);
    delete process.env.TSLLM_NO_MMAP;
    const be = new NativeBackend(addon!, { threads: 2 });
    for (const w of [mapped.weights.layers[0]!.mlp!.down, copied.weights.layers[0]!.mlp!.down]) {
      const before = Uint8Array.from(w.data);
      const [n, k] = w.shape as [number, number];
      const x = Float32Array.from({ length: 2 * k }, (_, i) => Math.sin(i));
      const first = new Float32Array(2 * n), second = new Float32Array(2 * n);
      be.matmul(first, x, be.prepareWeight(w), 2);
      // Released pages of the map come back from the file; those of an ordinary buffer never left.
      assert.equal(addon!.releasePages(w.data), true);
      assert.deepEqual(w.data, before);
      be.matmul(second, x, be.prepareWeight(w), 2);
      assert.deepEqual(second, first);
    }
    assert.throws(() => (addon!.releasePages as (v: unknown) => boolean)('x'), /typed array/);
  });

  it('--quantization q8_0 on the HF weights matches llama.cpp-style q8_0 from make-model.mjs', async () => {
    const fromHf = await loadModel(dir, { quantization: { format: 'Q8_0', backend: new NativeBackend(addon!, { threads: 2 }) } });
    const gguf = await loadModel(path.join(dir, 'model-q8_0.gguf'));
    // q/k rows are permuted for llama.cpp's RoPE in the GGUF copy; the other matrices are row for row the same.
    const pairs: [string, WeightTensor, WeightTensor][] = [
      ['embed', fromHf.weights.embed, gguf.weights.embed],
      ['lmHead', fromHf.weights.lmHead, gguf.weights.lmHead],
      ...fromHf.weights.layers.flatMap((l, i) => {
        const g = gguf.weights.layers[i]!;
        return [['v', l.v, g.v], ['o', l.o, g.o], ['gate', l.mlp!.gate!, g.mlp!.gate!], ['down', l.mlp!.down, g.mlp!.down]] as [string, WeightTensor, WeightTensor][];
      }),
    ];
    for (const [name, a, b] of pairs) {
      assert.equal(a.dtype, 'q8_0', name);
      assert.deepEqual(a.shape, b.shape, name);
      // make-model divides in float64, llama.cpp (and tsllm) in float32: a quant may differ by one step.
      const n = numel(a.shape);
      const fa = new Float32Array(n), fb = new Float32Array(n);
      dequantize(a, 0, n, fa);
      dequantize(b, 0, n, fb);
      let same = 0;
      for (let i = 0; i < a.data.length; i++) if (a.data[i] === b.data[i]) same++;
      assert.ok(same / a.data.length > 0.999, `${name}: only ${same} of ${a.data.length} bytes identical`);
      for (let blk = 0; blk < n / 32; blk++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(fb[blk * 32 + j]!));
        for (let j = 0; j < 32; j++) {
          const i = blk * 32 + j;
          assert.ok(Math.abs(fa[i]! - fb[i]!) <= (amax / 127) * 1.01 + 1e-9, `${name}[${i}]: ${fa[i]} vs ${fb[i]}`);
        }
      }
    }
  });

  for (const source of ['the q8_0 GGUF', 'the HF weights quantized to q4_0 at load']) {
    it(`${source} runs on the native backend with the same greedy tokens as the reference`, async () => {
      const m = source.includes('GGUF') ? await loadModel(path.join(dir, 'model-q8_0.gguf')) : await loadModel(dir, { loadFormat: 'safetensors', quantization: { format: 'Q4_0', backend: new NativeBackend(addon!, { threads: 2 }) } });
      assert.equal(m.weights.layers[0]!.q.dtype, source.includes('GGUF') ? 'q8_0' : 'q4_0');
      const greedy = (model: CausalLM) => {
        const ctx = new SequenceContext(model, 40);
        let logits = ctx.eval([1, 450, 4996, 17354, 1701]);
        const out: number[] = [];
        for (let i = 0; i < 16; i++) {
          const t = argmax(logits);
          out.push(t);
          logits = ctx.eval([t]);
        }
        return out;
      };
      const { ReferenceBackend } = await import('../../src/kernels/reference/reference-backend.js');
      assert.deepEqual(greedy(new CausalLM(m.config, m.weights, new NativeBackend(addon!, { threads: 2 }))), greedy(new CausalLM(m.config, m.weights, new ReferenceBackend())));
    });
  }
});

describe('backend selection on the command line', () => {
  it('without the addon, says once that the fast backend is missing and still generates', () => {
    const r = tsllm(['generate', '-p', 'hi', '--max-tokens', '3', '--temperature', '0'], { TSLLM_NO_NATIVE: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/native kernels disabled by TSLLM_NO_NATIVE=1; running on the TypeScript reference backend/g)?.length, 1, r.stderr);
  });

  it('refuses --threads 0 and a native backend that is not there', () => {
    const zero = tsllm(['generate', '-p', 'hi', '--max-tokens', '1', '--threads', '0']);
    assert.equal(zero.code, 1);
    assert.match(zero.stderr, /tsllm: error: --threads must be at least 1/);
    const missing = tsllm(['generate', '-p', 'hi', '--max-tokens', '1', '--backend', 'native'], { TSLLM_NO_NATIVE: '1' });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /tsllm: error: the native backend is unavailable: disabled by TSLLM_NO_NATIVE=1/);
  });
});
