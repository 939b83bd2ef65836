// Mixture-of-experts routing, the specification both backends share: softmax over each row's expert
// logits (float64), the top k (ties to the lower index, as torch.topk), renormalized when the model
// says so, grouped by expert so each expert runs once on all of its rows; and the shared expert's
// sigmoid gate.

import type { ExpertRouting } from '../backend.js';

export function routeExperts(logits: Float32Array, rows: number, numExperts: number, topK: number, normTopK: boolean): ExpertRouting {
  const E = numExperts;
  const routed: { rows: number[]; weights: number[] }[] = Array.from({ length: E }, () => ({ rows: [], weights: [] }));
  const probs = new Float64Array(E);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let e = 0; e < E; e++) max = Math.max(max, logits[r * E + e]!);
    let sum = 0;
    for (let e = 0; e < E; e++) sum += probs[e] = Math.exp(logits[r * E + e]! - max);
    for (let e = 0; e < E; e++) probs[e]! /= sum;
    const top = topKIndices(probs, topK);
    const norm = normTopK ? top.reduce((s, e) => s + probs[e]!, 0) : 1;
    for (const e of top) {
      routed[e]!.rows.push(r);
      routed[e]!.weights.push(probs[e]! / norm);
    }
  }
  return { rows: routed.map((x) => Int32Array.from(x.rows)), weights: routed.map((x) => Float64Array.from(x.weights)) };
}

/** Indices of the k largest values, largest first (ties to the lower index, as torch.topk). */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  return idx.slice(0, k);
}

/** sigmoid(x[i]) for i < n, in float64: a gate's weights for scatterAddRows. */
export function sigmoidWeights(x: Float32Array, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => 1 / (1 + Math.exp(-x[i]!)));
}
