// The seed's inference math on a given machine: per decode step, time_compute = FLOPs / peak and
// time_memory = bytes read / bandwidth (weights once per step, plus every sequence's KV cache); the
// step takes the larger. The seed's optimal batch is where the two meet for the weights alone,
// peak x bytes_per_param / (2 x bandwidth); memory caps the batch too, and the smaller one wins.

import type { ModelConfig } from '../model/config.js';
import type { Hardware } from './hardware.js';
import { flopsPerToken } from './model-math.js';

export interface DecodeStep {
  batch: number;
  computeSeconds: number;
  memorySeconds: number;
  /** max(compute, memory): the predicted time of one decode step, i.e. the per-token latency. */
  stepSeconds: number;
  tokensPerSecond: number;
  bound: 'compute' | 'memory';
}

export interface WorkloadShape {
  weightBytes: number;
  kvBytesPerToken: number;
  /** Tokens in each sequence's context during the step. */
  context: number;
}

export function decodeStep(c: ModelConfig, hw: Hardware, w: WorkloadShape, batch: number): DecodeStep {
  const computeSeconds = (batch * flopsPerToken(c, w.context)) / hw.peakFlops;
  const memorySeconds = (w.weightBytes + batch * w.context * w.kvBytesPerToken) / hw.bandwidth;
  const stepSeconds = Math.max(computeSeconds, memorySeconds);
  return { batch, computeSeconds, memorySeconds, stepSeconds, tokensPerSecond: batch / stepSeconds, bound: computeSeconds >= memorySeconds ? 'compute' : 'memory' };
}

/** The seed's optimal batch: peak_flops x bytes_per_param / (2 x bandwidth). */
export function seedOptimalBatch(hw: Hardware, bytesPerParam: number): number {
  return (hw.peakFlops * bytesPerParam) / (2 * hw.bandwidth);
}

/** Sequences of `context` tokens whose KV fits beside the weights and a step's activations. */
export function maxBatchInMemory(hw: Hardware, w: WorkloadShape, activationBytes: number): number {
  const free = hw.memory - w.weightBytes - activationBytes;
  return free <= 0 ? 0 : Math.floor(free / (w.context * w.kvBytesPerToken));
}

/** A prompt's prefill: all tokens in one pass, compute-bound unless the prompt is tiny. */
export function prefillSeconds(c: ModelConfig, hw: Hardware, w: WorkloadShape, promptTokens: number): { seconds: number; bound: 'compute' | 'memory' } {
  // Attention over a causal prompt sees on average half of it.
  const attnPerKey = flopsPerToken(c, 1) - flopsPerToken(c, 0);
  const flops = promptTokens * flopsPerToken(c, 0) + attnPerKey * (promptTokens * (promptTokens + 1)) / 2;
  const compute = flops / hw.peakFlops;
  const memory = (w.weightBytes + promptTokens * w.kvBytesPerToken) / hw.bandwidth;
  return { seconds: Math.max(compute, memory), bound: compute >= memory ? 'compute' : 'memory' };
}

/** Powers of two up to `max`, plus `max` itself and any `extra` points, sorted. */
export function batchSweep(max: number, extra: number[] = []): number[] {
  const out = new Set<number>();
  for (let b = 1; b <= max; b *= 2) out.add(b);
  out.add(Math.max(1, max));
  for (const e of extra) if (e >= 1 && e <= max) out.add(Math.round(e));
  return [...out].sort((a, b) => a - b);
}
