// Decode throughput and per-token latency against batch size, measured with the latency runner and
// set beside the calculator's roofline prediction for the same model, context and machine.

import type { CausalLM } from '../model/architectures/decoder.js';
import type { DecodeStep } from '../calc/roofline.js';
import { benchPrompts, TsllmLatencyRunner } from './latency.js';
import { median } from './stats.js';

export interface SweepPoint {
  batch: number;
  measuredTokensPerSecond: number;
  measuredStepMs: number;
  predictedTokensPerSecond: number;
  predictedStepMs: number;
  predictedBound: 'compute' | 'memory';
  /** (predicted - measured) / measured, of tokens/s. */
  error: number;
}

export interface SweepOptions {
  batchSizes: number[];
  inputLen: number;
  outputLen: number;
  numIters: number;
}

export async function runSweep(model: CausalLM, o: SweepOptions, predict: (batch: number) => DecodeStep, onPoint?: (p: SweepPoint) => void): Promise<SweepPoint[]> {
  const runner = new TsllmLatencyRunner('tsllm', model);
  const points: SweepPoint[] = [];
  for (const batch of o.batchSizes) {
    const prompts = benchPrompts(model.config.vocabSize, o.inputLen, batch);
    const stepsPerSecond: number[] = [];
    for (let i = 0; i < o.numIters; i++) {
      const s = await runner.runOnce(prompts, o.outputLen);
      stepsPerSecond.push(s.decodeSteps / s.decodeSeconds);
    }
    const steps = median(stepsPerSecond);
    const p = predict(batch);
    const point: SweepPoint = {
      batch,
      measuredTokensPerSecond: steps * batch,
      measuredStepMs: 1000 / steps,
      predictedTokensPerSecond: p.tokensPerSecond,
      predictedStepMs: p.stepSeconds * 1000,
      predictedBound: p.bound,
      error: (p.tokensPerSecond - steps * batch) / (steps * batch),
    };
    points.push(point);
    onPoint?.(point);
  }
  return points;
}

/** Why a point's prediction misses by more than `tolerance`, in one sentence (null if it does not). */
export function explainMiss(p: SweepPoint, computeMs: number, memoryMs: number, tolerance = 0.3): string | null {
  if (Math.abs(p.error) <= tolerance) return null;
  if (p.measuredStepMs > p.predictedStepMs && p.measuredStepMs <= computeMs + memoryMs) {
    return `batch ${p.batch}: near the ridge point compute (${computeMs.toFixed(1)} ms) and memory (${memoryMs.toFixed(1)} ms) overlap only in part, ` +
      `so the step (${p.measuredStepMs.toFixed(1)} ms) lies between their max and their sum (${(computeMs + memoryMs).toFixed(1)} ms)`;
  }
  if (p.measuredStepMs > p.predictedStepMs) {
    const extra = p.measuredStepMs - Math.max(computeMs, memoryMs);
    return `batch ${p.batch}: the step takes ${p.measuredStepMs.toFixed(1)} ms against a ${p.predictedBound}-bound ${p.predictedStepMs.toFixed(1)} ms; ` +
      `${extra.toFixed(1)} ms go to work the roofline does not count (attention over the KV cache, norms, RoPE, sampling, and per-op overhead), ` +
      `or the matmul runs below the measured peak at this shape`;
  }
  return `batch ${p.batch}: measured faster than the roofline (${p.measuredStepMs.toFixed(1)} against ${p.predictedStepMs.toFixed(1)} ms): ` +
    'the bandwidth or FLOP/s used for the prediction is below what this shape achieves (weights partly served from cache)';
}
