// What one forward pass reads and computes: the weight bytes every decode step streams from memory
// (all layer matrices and the output head; an embedding lookup reads one row) and the matmul
// parameters that cost 2 FLOPs per token each.

import { numel, byteSize, type WeightTensor } from '../kernels/tensor.js';
import type { MlpWeights, ModelWeights } from '../model/weights.js';

export interface ModelFootprint {
  /** Bytes of matrices read per decode step (MoE: all experts, an upper bound). */
  weightBytes: number;
  /** The same with only `activeExperts` experts per MoE layer: what a decode step that routes to that many reads. */
  activeWeightBytes: number;
  /** Parameters multiplied per token (MoE: the active experts only). */
  matmulParams: number;
}

export function modelFootprint(w: ModelWeights, activeExperts = 0): ModelFootprint {
  let bytes = 0;
  let activeBytes = 0;
  let params = 0;
  const add = (t: WeightTensor | undefined, active = true) => {
    if (!t) return;
    const b = byteSize(t.dtype, numel(t.shape));
    bytes += b;
    if (active) {
      params += numel(t.shape);
      activeBytes += b;
    }
  };
  const mlp = (m: MlpWeights, active = true) => [m.gate, m.up, m.down].forEach((t) => add(t, active));
  for (const l of w.layers) {
    [l.q, l.k, l.v, l.o].forEach((t) => add(t));
    if (l.mlp) mlp(l.mlp);
    if (l.moe) {
      add(l.moe.router);
      l.moe.experts.forEach((e, i) => e && mlp(e, i < activeExperts));
      if (l.moe.shared) mlp(l.moe.shared);
    }
  }
  add(w.lmHead);
  return { weightBytes: bytes, activeWeightBytes: activeBytes, matmulParams: params };
}

/** Bytes of all weights as stored: matrices in their formats, the embedding table, float32 norms and biases. */
export function storedWeightBytes(w: ModelWeights, totalParams: number, numExperts: number): number {
  const fp = modelFootprint(w, numExperts);
  const separateEmbed = w.lmHead !== w.embed;
  const embedParams = separateEmbed ? numel(w.embed.shape) : 0;
  return fp.weightBytes + (separateEmbed ? w.embed.data.byteLength : 0) + 4 * (totalParams - fp.matmulParams - embedParams);
}
