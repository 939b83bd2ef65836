// `--quantization q8_0|q4_0`: the model's matrices (every layer's projections, the embedding and the
// output head) re-encoded at load, as llama.cpp's quantize tool would write them. Vectors (norms,
// biases) stay float32, and a matrix whose rows are not a multiple of 32 is kept as it is.

import type { Backend } from '../kernels/backend.js';
import type { WeightTensor } from '../kernels/tensor.js';
import { convertWeight } from '../kernels/quantize.js';
import type { MlpWeights, ModelWeights } from './weights.js';

export const QUANTIZATIONS = ['q8_0', 'q4_0'] as const;
export type Quantization = (typeof QUANTIZATIONS)[number];

/** Re-encodes on `backend`'s kernels (the reference and the native ones write the same bytes). */
export function quantizeWeights(w: ModelWeights, dtype: Quantization, backend: Backend): ModelWeights {
  const q = (t: WeightTensor): WeightTensor => {
    const k = t.shape[1]!;
    if (t.shape.length !== 2 || k % 32 !== 0 || t.dtype === dtype) return t;
    return convertWeight(t, dtype, (dst, d, src, rows, k) => backend.quantizeRows(dst, d, src, rows, k));
  };
  const mlp = (m: MlpWeights): MlpWeights => ({ ...m, up: q(m.up), down: q(m.down), ...(m.gate ? { gate: q(m.gate) } : {}) });
  const embed = q(w.embed);
  return {
    ...w,
    embed,
    lmHead: w.lmHead === w.embed ? embed : q(w.lmHead),
    layers: w.layers.map((l) => ({
      ...l,
      q: q(l.q), k: q(l.k), v: q(l.v), o: q(l.o),
      ...(l.mlp ? { mlp: mlp(l.mlp) } : {}),
      ...(l.moe ? { moe: { ...l.moe, experts: l.moe.experts.map(mlp), ...(l.moe.shared ? { shared: mlp(l.moe.shared) } : {}) } } : {}),
    })),
  };
}
