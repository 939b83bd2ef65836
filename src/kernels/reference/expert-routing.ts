// Mixture-of-experts routing, the specification both backends share: softmax over each row's expert
// logits (float64), the top k (ties to the lower index, as torch.topk), renormalized when the model
// says so, grouped by expert so each expert runs once on all of its rows; and the shared expert's
// sigmoid gate.

import type { ExpertRouting, GroupedRoutingSpec } from '../backend.js';

export function routeExperts(logits: Float32Array, rows: number, numExperts: number, topK: number, normTopK: boolean): ExpertRouting {
  const E = numExperts;
  const routed: { rows: number[]; weights: number[] }[] = Array.from({ length: E }, () => ({ rows: [], weights: [] }));
  const probs = new Float64Array(E);
  for (let r = 0; r < rows; r++) {
    softmaxRow(logits, r * E, E, probs);
    const top = topKIndices(probs, topK);
    const norm = normTopK ? top.reduce((s, e) => s + probs[e]!, 0) : 1;
    for (const e of top) {
      routed[e]!.rows.push(r);
      routed[e]!.weights.push(probs[e]! / norm);
    }
  }
  return { rows: routed.map((x) => Int32Array.from(x.rows)), weights: routed.map((x) => Float64Array.from(x.weights)) };
}

/**
 * DeepSeek's router (transformers' DeepseekV3TopkRouter): sigmoid (V3) or softmax (V2) scores; the bias-corrected scores
 * pick the best groups (each scored by the sum of its two best) and the top k experts inside them
 * (the others count as 0); the weights are the uncorrected scores, renormalized, times `scale`.
 */
export function routeExpertsGrouped(
  logits: Float32Array, rows: number, numExperts: number, topK: number, normTopK: boolean, g: GroupedRoutingSpec,
): ExpertRouting {
  const E = numExperts;
  const perGroup = E / g.groups;
  const routed: { rows: number[]; weights: number[] }[] = Array.from({ length: E }, () => ({ rows: [], weights: [] }));
  const scores = new Float64Array(E), choice = new Float64Array(E), groupScores = new Float64Array(g.groups);
  for (let r = 0; r < rows; r++) {
    if (g.scoring === 'softmax') softmaxRow(logits, r * E, E, scores);
    else for (let e = 0; e < E; e++) scores[e] = Math.fround(1 / (1 + Math.exp(-logits[r * E + e]!)));
    for (let e = 0; e < E; e++) choice[e] = Math.fround(scores[e]! + (g.bias ? g.bias[e]! : 0));
    for (let gi = 0; gi < g.groups; gi++) {
      const best = topKIndices(choice.subarray(gi * perGroup, (gi + 1) * perGroup), Math.min(2, perGroup));
      groupScores[gi] = best.reduce((s, i) => s + choice[gi * perGroup + i]!, 0);
    }
    const keep = new Set(topKIndices(groupScores, g.topKGroups));
    const masked = Float64Array.from(choice, (v, e) => (keep.has(Math.floor(e / perGroup)) ? v : 0));
    const top = topKIndices(masked, topK);
    const norm = normTopK ? top.reduce((s, e) => s + scores[e]!, 0) + 1e-20 : 1;
    for (const e of top) {
      routed[e]!.rows.push(r);
      routed[e]!.weights.push((scores[e]! / norm) * g.scale);
    }
  }
  return { rows: routed.map((x) => Int32Array.from(x.rows)), weights: routed.map((x) => Float64Array.from(x.weights)) };
}

function softmaxRow(logits: Float32Array, at: number, n: number, out: Float64Array): void {
  let max = -Infinity;
  for (let e = 0; e < n; e++) max = Math.max(max, logits[at + e]!);
  let sum = 0;
  for (let e = 0; e < n; e++) sum += out[e] = Math.exp(logits[at + e]! - max);
  for (let e = 0; e < n; e++) out[e]! /= sum;
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
