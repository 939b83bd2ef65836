// `bench kv-cache`: what each KV-cache dtype buys. Capacity: how many full-length sequences fit in a
// budget, by the engine's own block arithmetic. Speed: decode tokens/s of a batch at a long context.
// The context is written straight into the cache (seeded random K/V through the real writeKV, so it
// is quantized as served K/V would be): the decode steps read exactly what they would after a prefill,
// without spending minutes per dtype prefilling it. Iterations alternate between dtypes, so drifts
// in machine load hit all of them alike; the report gives medians.

import type { CausalLM } from '../model/architectures/decoder.js';
import { BatchBuilder } from '../engine/runner/batch-builder.js';
import { kvBytesPerToken, type KVCacheDType } from '../kernels/kv-cache-dtype.js';
import { KVCacheStorage } from '../engine/kv-cache/kv-cache-storage.js';
import { resolveEngineConfig } from '../engine/engine-config.js';
import { Rng } from '../util/rng.js';
import { median } from './stats.js';

export interface KVCacheBenchOptions {
  dtypes: readonly KVCacheDType[];
  /** Tokens of context each sequence has before the timed steps. */
  context: number;
  batchSize: number;
  /** Decode steps per timed iteration. */
  steps: number;
  numIters: number;
  /** Budget for the capacity column. */
  kvCacheMemory: number;
  blockSize?: number;
}

export interface KVCacheBenchRow {
  dtype: KVCacheDType;
  bytesPerToken: number;
  /** Sequences of context + steps tokens the budget holds. */
  sequencesThatFit: number;
  decodeTokensPerSecond: number;
  samples: number[];
  /** The attention op alone, all layers, one decode step of the batch: the part the dtype changes. */
  attentionMsPerStep: number;
}

export function kvCapacity(model: CausalLM, dtype: KVCacheDType, budget: number, seqLen: number, blockSize = 16): number {
  const c = resolveEngineConfig(model.config, { kvCacheMemory: budget, kvCacheDtype: dtype, blockSize, maxModelLen: Math.min(seqLen, model.config.maxPositions), maxNumSeqs: 1 << 20 });
  return Math.floor(c.numBlocks / Math.ceil(seqLen / blockSize));
}

export function benchKVCache(model: CausalLM, o: KVCacheBenchOptions, onSample?: (dtype: KVCacheDType, tokensPerSecond: number) => void): KVCacheBenchRow[] {
  const c = model.config;
  const bs = o.blockSize ?? 16;
  const perSeq = Math.ceil((o.context + o.steps) / bs);
  const tables = Array.from({ length: o.batchSize }, (_, b) => Int32Array.from({ length: perSeq }, (_, i) => b * perSeq + i));
  const slot = (b: number, pos: number) => tables[b]![Math.floor(pos / bs)]! * bs + (pos % bs);
  const caches = o.dtypes.map((dtype) => fillCache(model, new KVCacheStorage(c, o.batchSize * perSeq, bs, dtype), tables, o.context, slot));

  const rng = new Rng(1);
  const ids = Int32Array.from({ length: o.batchSize }, () => 3 + Math.floor(rng.next() * (c.vocabSize - 3)));
  const batches = new BatchBuilder(bs);
  const step = (cache: KVCacheStorage, s: number) => {
    const pos = o.context + s;
    model.forward(batches.build(tables.map((blockTable, b) => ({ tokenIds: [ids[b]!], start: pos, blockTable, logitsFrom: 0 }))), cache.layers, bs);
  };
  const q = Float32Array.from({ length: o.batchSize * c.numHeads * c.headDim }, () => rng.next() - 0.5);
  const attnOut = new Float32Array(q.length);
  const shape = { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, blockSize: bs, scale: 1 / Math.sqrt(c.headDim), slidingWindow: 0 };
  const attnSeqs = tables.map((blockTable, b) => ({ queryStart: b, queryLen: 1, contextLen: o.context, blockTable }));
  const attentionOnly = (cache: KVCacheStorage) => {
    const t0 = performance.now();
    for (const layer of cache.layers) model.backend.attention(attnOut, q, layer, attnSeqs, shape);
    return performance.now() - t0;
  };
  caches.forEach((cache) => step(cache, 0)); // warm-up: pages touched, code paths hot
  const samples = o.dtypes.map(() => [] as number[]);
  const attnMs = o.dtypes.map(() => [] as number[]);
  for (let it = 0; it < o.numIters; it++) {
    caches.forEach((cache, i) => {
      const t0 = performance.now();
      for (let s = 0; s < o.steps; s++) step(cache, s);
      const tps = (o.steps * o.batchSize) / ((performance.now() - t0) / 1000);
      samples[i]!.push(tps);
      for (let s = 0; s < o.steps; s++) attnMs[i]!.push(attentionOnly(cache));
      onSample?.(o.dtypes[i]!, tps);
    });
  }
  return o.dtypes.map((dtype, i) => ({
    dtype,
    bytesPerToken: kvBytesPerToken(dtype, c.numLayers, c.numKvHeads, c.headDim, c.mla ? 1 : 2),
    sequencesThatFit: kvCapacity(model, dtype, o.kvCacheMemory, o.context + o.steps, bs),
    decodeTokensPerSecond: median(samples[i]!),
    samples: samples[i]!,
    attentionMsPerStep: median(attnMs[i]!),
  }));
}

// Every layer's K and V for positions [0, context) of every sequence: unit-variance noise, written a
// chunk of rows at a time through the backend's writeKV.
function fillCache(model: CausalLM, cache: KVCacheStorage, tables: Int32Array[], context: number, slot: (b: number, pos: number) => number): KVCacheStorage {
  const c = model.config;
  const kvDim = c.numKvHeads * c.headDim;
  const rng = new Rng(2);
  const chunk = Math.min(context, 256);
  const noise = () => Float32Array.from({ length: chunk * kvDim }, () => (rng.next() + rng.next() + rng.next() - 1.5) * 2);
  const k = noise(), v = noise();
  for (const layer of cache.layers) {
    for (let b = 0; b < tables.length; b++) {
      for (let p0 = 0; p0 < context; p0 += chunk) {
        const rows = Math.min(chunk, context - p0);
        const slots = Int32Array.from({ length: rows }, (_, i) => slot(b, p0 + i));
        model.backend.writeKV(layer, k, v, slots, rows, c.numKvHeads, c.headDim);
      }
    }
  }
  return cache;
}
