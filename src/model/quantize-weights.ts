// `--quantization q8_0|q4_0`: the model's matrices (every layer's projections, the embedding and the
// output head) re-encoded at load, as llama.cpp's quantize tool would write them. Vectors (norms,
// biases) stay float32, and a matrix whose rows are not a multiple of 32 is kept as it is.

import type { Backend } from '../kernels/backend.js';
import { byteSize, dequantize, type WeightDType, type WeightTensor } from '../kernels/tensor.js';
import type { MlpWeights, ModelWeights } from './weights.js';

export const QUANTIZATIONS = ['q8_0', 'q4_0'] as const;
export type Quantization = (typeof QUANTIZATIONS)[number];

/** Re-encodes on `backend`'s kernels (the reference and the native ones write the same bytes). */
export function quantizeWeights(w: ModelWeights, dtype: Quantization, backend: Backend): ModelWeights {
  const quantize = rowQuantizer(backend);
  const q = (t: WeightTensor): WeightTensor => {
    const k = t.shape[1]!;
    if (t.shape.length !== 2 || k % 32 !== 0 || t.dtype === dtype) return t;
    return quantize(t, dtype);
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

type RowQuantizer = (t: WeightTensor, dtype: WeightDType) => WeightTensor;

function rowQuantizer(backend: Backend): RowQuantizer {
  // A slab of rows at a time keeps the float32 copy small whatever the tensor's size.
  return (t, dtype) => {
    const [n, k] = t.shape as [number, number];
    const out = new Uint8Array(byteSize(dtype, n * k));
    const rowBytes = byteSize(dtype, k);
    const slab = Math.max(1, Math.floor((16 << 20) / (k * 4)));
    const f32 = new Float32Array(Math.min(n, slab) * k);
    for (let r0 = 0; r0 < n; r0 += slab) {
      const rows = Math.min(slab, n - r0);
      const src = f32.subarray(0, rows * k);
      dequantize(t, r0 * k, rows * k, src);
      const dst = out.subarray(r0 * rowBytes, (r0 + rows) * rowBytes);
      backend.quantizeRows(dst, dtype, src, rows, k);
    }
    return { dtype, shape: [n, k], data: out };
  };
}
