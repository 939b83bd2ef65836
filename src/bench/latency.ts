// `bench latency`: prefill and decode speed of one batch of B sequences, I prompt tokens then O new
// tokens each, greedy. Each iteration times the prefill (every prompt, one forward pass per sequence)
// and the O decode steps (all B sequences in one forward pass per step) separately; the report gives
// medians over iterations.

import type { CausalLM } from '../model/architectures/decoder.js';
import { BatchBuilder } from '../engine/runner/batch-builder.js';
import { type KVCacheDType } from '../kernels/kv-cache-dtype.js';
import { KV_CACHE_DTYPE_AUTO } from '../engine/engine-config.js';
import { KVCacheStorage } from '../engine/kv-cache/kv-cache-storage.js';
import { argmax } from '../engine/sampling/logprobs.js';
import { Rng } from '../util/rng.js';
import { median } from './stats.js';
import { distribution, throughputFigures, type ServingMetrics } from './result-format.js';

export interface LatencyOptions {
  inputLen: number;
  outputLen: number;
  batchSize: number;
  numIters: number;
  warmupIters: number;
}

/** One timed iteration: seconds spent in prefill (inputTokens of them) and in the decode steps. */
export interface LatencySample {
  prefillSeconds: number;
  prefillTokens: number;
  decodeSeconds: number;
  decodeSteps: number;
}

/** An engine under test: runs one iteration on the same prompts as every other runner. */
export interface LatencyRunner {
  readonly name: string;
  runOnce(prompts: number[][], outputLen: number): Promise<LatencySample>;
  close?(): Promise<void>;
}

export interface LatencyResult {
  engine: string;
  /** The shared result format: each iteration counts as batchSize requests served together. */
  serving: ServingMetrics;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Decode steps per second: each step reads every weight once, whatever the batch. */
  decodeStepsPerSecond: number;
  samples: LatencySample[];
}

/** The same prompts for every engine: ids drawn uniformly from [3, vocab), seeded. */
export function benchPrompts(vocabSize: number, inputLen: number, batchSize: number, seed = 0): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: batchSize }, () => Array.from({ length: inputLen }, () => 3 + Math.floor(rng.next() * (vocabSize - 3))));
}

export function summarize(engine: string, samples: LatencySample[], batchSize: number): LatencyResult {
  const prefill = median(samples.map((s) => s.prefillTokens / s.prefillSeconds));
  const steps = median(samples.map((s) => s.decodeSteps / s.decodeSeconds));
  return { engine, serving: servingMetrics(samples, batchSize), prefillTokensPerSecond: prefill, decodeTokensPerSecond: steps * batchSize, decodeStepsPerSecond: steps, samples };
}

/** One batch's prefill then decode per iteration, as serving metrics: TTFT = the batch's prefill, TPOT = one decode step. */
export function servingMetrics(samples: readonly LatencySample[], batchSize: number): ServingMetrics {
  const elapsed = samples.reduce((t, s) => t + s.prefillSeconds + s.decodeSeconds, 0);
  const input = samples.reduce((n, s) => n + s.prefillTokens, 0);
  // Tokens of the timed decode steps (runners differ on whether prefill yields one too).
  const output = samples.reduce((n, s) => n + batchSize * s.decodeSteps, 0);
  const requests = samples.length * batchSize;
  return {
    ...throughputFigures(requests, input, output, elapsed),
    ttftMs: distribution(samples.map((s) => s.prefillSeconds * 1000)),
    tpotMs: distribution(samples.map((s) => (s.decodeSeconds * 1000) / s.decodeSteps)),
    e2eMs: distribution(samples.map((s) => (s.prefillSeconds + s.decodeSeconds) * 1000)),
  };
}

/** Runs every runner on the same prompts, iterations interleaved so drift in machine load hits all alike. */
export async function benchLatency(runners: LatencyRunner[], prompts: number[][], opts: LatencyOptions, onSample?: (name: string, s: LatencySample) => void,
  beforeTimedIteration?: () => void): Promise<LatencyResult[]> {
  const samples = runners.map(() => [] as LatencySample[]);
  for (let it = 0; it < opts.warmupIters + opts.numIters; it++) {
    if (it >= opts.warmupIters) beforeTimedIteration?.();
    for (let r = 0; r < runners.length; r++) {
      const s = await runners[r]!.runOnce(prompts, opts.outputLen);
      if (it >= opts.warmupIters) {
        samples[r]!.push(s);
        onSample?.(runners[r]!.name, s);
      }
    }
  }
  return runners.map((r, i) => summarize(r.name, samples[i]!, opts.batchSize));
}

/**
 * tsllm's own model: a paged cache with a contiguous block table per sequence. The cache is made once
 * and kept across iterations, as a server keeps its cache and llama-bench its context: a fresh one per
 * iteration put the first touch of every page (faults, the kernel zeroing 2 MiB pages) inside the
 * timed prefill and decode.
 */
export class TsllmLatencyRunner implements LatencyRunner {
  private static readonly BLOCK = 16;
  private cache: KVCacheStorage | null = null;

  constructor(
    readonly name: string,
    private readonly model: CausalLM,
    private readonly kvCacheDtype: KVCacheDType = KV_CACHE_DTYPE_AUTO,
  ) {}

  private cacheOf(blocks: number): KVCacheStorage {
    if (!this.cache || this.cache.numBlocks < blocks) this.cache = new KVCacheStorage(this.model.config, blocks, TsllmLatencyRunner.BLOCK, this.kvCacheDtype);
    return this.cache;
  }

  async runOnce(prompts: number[][], outputLen: number): Promise<LatencySample> {
    const c = this.model.config;
    const B = prompts.length;
    const bs = TsllmLatencyRunner.BLOCK;
    const perSeq = Math.ceil((prompts[0]!.length + outputLen + 1) / bs);
    const cache = this.cacheOf(B * perSeq);
    const tables = prompts.map((_, b) => Array.from({ length: perSeq }, (_, i) => b * perSeq + i));
    const batches = new BatchBuilder(bs);

    const next: number[] = [];
    const lengths: number[] = [];
    let t = performance.now();
    prompts.forEach((p, b) => {
      const batch = batches.build([{ tokenIds: p, start: 0, blockTable: tables[b]!, logitsFrom: p.length - 1 }]);
      next.push(argmax(this.model.forward(batch, cache.layers, bs)));
      lengths.push(p.length);
    });
    const prefillSeconds = (performance.now() - t) / 1000;

    t = performance.now();
    const V = c.vocabSize;
    for (let step = 0; step < outputLen; step++) {
      const batch = batches.build(lengths.map((pos, b) => ({ tokenIds: [next[b]!], start: pos, blockTable: tables[b]!, logitsFrom: 0 })));
      const logits = this.model.forward(batch, cache.layers, bs);
      for (let b = 0; b < B; b++) {
        next[b] = argmax(logits.subarray(b * V, (b + 1) * V));
        lengths[b] = lengths[b]! + 1;
      }
    }
    const decodeSeconds = (performance.now() - t) / 1000;
    return { prefillSeconds, prefillTokens: B * prompts[0]!.length, decodeSeconds, decodeSteps: outputLen };
  }
}
