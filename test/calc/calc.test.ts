// The inference calculator against known numbers: Llama-2-7B's parameters, fp16 bytes and KV per
// token, the seed's optimal batch on an H100, and the roofline's regimes.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { calcReport } from '../../src/calc/calc-report.js';
import { HARDWARE } from '../../src/calc/hardware.js';
import { countParams, DTYPE_BYTES, flopsPerToken, kvBytesPerToken } from '../../src/calc/model-math.js';
import { decodeStep, seedOptimalBatch } from '../../src/calc/roofline.js';
import { presetConfig } from '../../src/model/loaders/dummy.js';
import { readHfConfig } from '../../src/model/loaders/hf-folder.js';
import { SafetensorsFile } from '../../src/model/loaders/safetensors.js';
import { KVCacheStorage } from '../../src/engine/kv-cache/kv-cache-storage.js';
import { modelDir } from '../helpers/fixtures.js';
import { tsllm } from '../helpers/cli.js';

const llama7b = presetConfig('llama-2-7b');

describe('model math', () => {
  it('Llama-2-7B: 6.74e9 parameters, 13.5 GB in fp16, 512 KiB of fp16 KV per token', () => {
    const p = countParams(llama7b);
    assert.equal(p.total, 6_738_415_616);
    assert.equal((p.total * 2 / 1e9).toFixed(1), '13.5');
    assert.equal(kvBytesPerToken(llama7b, 'f16'), 512 * 1024);
    // int4 as the engine stores it: 64 bytes of nibbles plus 4 bf16 group scales per 128-dim head.
    assert.equal(kvBytesPerToken(llama7b, 'int4'), 2 * 32 * 32 * (64 + 8));
    // 2 x parameters, plus 4 x layers x heads x head_dim per key of context.
    assert.equal(flopsPerToken(llama7b, 1000), 2 * p.total + 4 * 32 * 32 * 128 * 1000);
  });

  it('counts a fixture model exactly as its safetensors hold it', () => {
    // llama-gqa: 2 layers, hidden 64, 4 heads / 2 KV heads of 16, MLP 172, vocab 512, untied.
    const c = readHfConfig(modelDir('llama-gqa'));
    const H = 64;
    const perLayer = H * 64 + 2 * H * 32 + 64 * H + 3 * H * 172 + 2 * H;
    assert.equal(countParams(c).total, 512 * H + 2 * perLayer + H + (c.tieEmbeddings ? 0 : 512 * H));
  });

  it('weight bytes per parameter for every format the engine reads, scales included', () => {
    assert.equal(DTYPE_BYTES.q8_0, 34 / 32);
    assert.equal(DTYPE_BYTES.q4_k, 144 / 256);
    assert.equal(DTYPE_BYTES.q6_k, 210 / 256);
    assert.equal(DTYPE_BYTES.iq4_xs, 136 / 256);
    // Llama-2-7B in Q4_K (base type only): 3.79 GB.
    assert.equal(Math.round((countParams(llama7b).total * DTYPE_BYTES.q4_k) / 1e7) / 100, 3.79);
  });

  it('MoE: all experts stored, only top-k active', () => {
    const c = readHfConfig(modelDir('mixtral-moe'));
    const p = countParams(c);
    const m = c.moe!;
    assert.equal(p.total - p.activePerToken, c.numLayers * (m.numExperts - m.topK) * 3 * c.hiddenSize * m.expertIntermediateSize);
  });
});

describe('DeepSeek-V3 (MLA, dense first layers, shared experts)', () => {
  const c = readHfConfig(modelDir('deepseek-v3'));

  it('counts every tensor its safetensors hold, and only the routed top-k as active', () => {
    const file = SafetensorsFile.open(path.join(modelDir('deepseek-v3'), 'model.safetensors'));
    const stored = [...file.entries.keys()].reduce((sum, n) => sum + file.read(n).shape.reduce((a, b) => a * b, 1), 0);
    file.close();
    const p = countParams(c);
    // The router's e_score_correction_bias (8 per MoE layer) is a vector the count leaves out.
    assert.equal(p.total, stored - 8);
    assert.equal(p.total - p.activePerToken, 1 * (8 - 2) * 3 * 64 * 32);
  });

  it('the full DeepSeek-V3 shape: 671e9 parameters (37e9 active) and 70,272 bytes of bf16-sized latent cache per token', () => {
    const v3 = presetConfig('deepseek-v3');
    const p = countParams(v3);
    // DeepSeek's report: 671B total and 37B activated (the multi-token-prediction module excluded).
    assert.equal(Math.round(p.total / 1e9), 671);
    assert.equal(Math.floor(p.activePerToken / 1e9), 37);
    assert.equal(kvBytesPerToken(v3, 'f16'), 61 * (512 + 64) * 2);
  });

  it('caches one record of rope key + latent per layer: 40 floats, not 2 x 4 heads x (24 | 16)', () => {
    assert.equal(kvBytesPerToken(c, 'f32'), 2 * (8 + 32) * 4);
    // The same shapes with ordinary attention would cache per-head keys (nope + rope) and values.
    const mha = 2 * (4 * 24 + 4 * 16) * 4;
    assert.equal(mha / kvBytesPerToken(c, 'f32'), 4);
    // What the engine allocates: one pool per layer serving as K and V.
    const storage = new KVCacheStorage(c, 4, 16, 'f16');
    assert.equal(storage.layers[0]!.k, storage.layers[0]!.v);
    assert.equal(storage.layers.reduce((s, l) => s + l.k.byteLength, 0) / (4 * 16), kvBytesPerToken(c, 'f16'));
  });
});

describe('roofline', () => {
  it('the seed\'s optimal batch on an H100 SXM in fp16 is about 295', () => {
    assert.equal(Math.round(seedOptimalBatch(HARDWARE['h100-sxm']!, 2)), 295);
  });

  it('decode is memory-bound at batch 1 and compute-bound far past the optimum', () => {
    const shape = { weightBytes: countParams(llama7b).total * 2, kvBytesPerToken: 0, context: 1 };
    const one = decodeStep(llama7b, HARDWARE['h100-sxm']!, shape, 1);
    assert.equal(one.bound, 'memory');
    assert.ok(Math.abs(one.memorySeconds - shape.weightBytes / 3.35e12) < 1e-12);
    assert.equal(decodeStep(llama7b, HARDWARE['h100-sxm']!, shape, 400).bound, 'compute');
    // Without KV traffic the two times cross at the seed's batch (FLOPs/token ~ 2 x params).
    assert.equal(decodeStep(llama7b, HARDWARE['h100-sxm']!, shape, 290).bound, 'memory');
    assert.equal(decodeStep(llama7b, HARDWARE['h100-sxm']!, shape, 300).bound, 'compute');
  });

  it('the true optimum is the smaller of the seed\'s batch and what fits in memory', () => {
    const r = calcReport({ config: llama7b, weightBytes: countParams(llama7b).total * 2, dtype: 'f16', kvDtype: 'f16', hardware: HARDWARE['h100-sxm']!, batchSize: 8, context: 4096, promptLen: 512 });
    // (80 GB - 13.5 GB - activations) / (4096 x 512 KiB) = 30 sequences of 4k tokens.
    assert.equal(r.maxBatchInMemory, 30);
    assert.equal(r.optimalBatch, 30);
    assert.ok(r.sweep.some((d) => d.batch === 30));
    assert.equal(r.kvBytes, 8 * 4096 * 512 * 1024);
  });
});

describe('tsllm calc', () => {
  it('prints JSON for a preset on a named machine', () => {
    const r = tsllm(['calc', '--preset', 'llama-2-7b', '--hardware', 'h100-sxm', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.params, 6_738_415_616);
    assert.equal(Math.round(j.seedOptimalBatch), 295);
    assert.equal(j.kvBytesPerToken, 524288);
  });

  it('reads a model file and its stored format', () => {
    const r = tsllm(['calc', '-m', modelDir('llama-gqa'), '--hardware', 'custom', '--peak-tflops', '1', '--bandwidth-gbs', '10', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.dtype, 'f32');
    assert.equal(j.weightBytes, j.params * 4);
    assert.equal(j.hardware.peakFlops, 1e12);
  });

  it('a folder holding only config.json gives the numbers of the full model folder, in its torch_dtype', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsllm-calc-'));
    try {
      for (const name of ['llama-gqa', 'deepseek-v3', 'gemma2']) {
        fs.copyFileSync(path.join(modelDir(name), 'config.json'), path.join(dir, 'config.json'));
        const args = ['--hardware', 'custom', '--peak-tflops', '1', '--bandwidth-gbs', '10', '--context', '512', '--json'];
        const full = tsllm(['calc', '-m', modelDir(name), ...args]), alone = tsllm(['calc', '-m', dir, ...args]);
        assert.equal(alone.code, 0, alone.stderr);
        // Every figure equal; only the model's path differs.
        assert.deepEqual({ ...JSON.parse(alone.stdout), model: '' }, { ...JSON.parse(full.stdout), model: '' }, name);
      }
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, torch_dtype: 'bfloat16' }));
      const bf16 = JSON.parse(tsllm(['calc', '-m', dir, '--json']).stdout);
      assert.equal(bf16.dtype, 'bf16');
      assert.equal(bf16.weightBytes, bf16.params * 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--hardware cpu --measure uses what the native kernels reach here', () => {
    const r = tsllm(['calc', '--preset', 'demo', '--hardware', 'cpu', '--measure', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.match(j.hardware.name, /measured, f16 kernels/);
    assert.ok(j.hardware.peakFlops > 1e9 && j.hardware.bandwidth > 1e9, JSON.stringify(j.hardware));
    assert.notEqual(j.hardware.peakFlops, 200e9);
    assert.ok(Math.abs(j.seedOptimalBatch - (j.hardware.peakFlops * 2) / (2 * j.hardware.bandwidth)) < 1e-9);
  });

  it('explains bad combinations', () => {
    assert.match(tsllm(['calc', '--preset', 'llama-2-7b', '--hardware', 'custom']).stderr, /needs --peak-tflops and --bandwidth-gbs/);
    assert.match(tsllm(['calc']).stderr, /exactly one of --model or --preset/);
    assert.match(tsllm(['calc', '--preset', 'llama-2-7b', '--measure']).stderr, /--hardware cpu/);
  });
});
