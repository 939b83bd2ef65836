// Float32 rows into a storage format, with llama.cpp's reference rounding (quantize_row_q8_0_ref,
// quantize_row_q4_0_ref; the other block formats in quantize-blocks.ts), so a model quantized at load
// equals the same model quantized by llama.cpp.
// This is the specification; the native kernels' quantizeRows must produce the same bytes.

import { quantizeBlocks } from './quantize-blocks.js';
import { byteSize, dequantize, numel, floatToBf16, floatToHalf, type WeightDType, type WeightTensor } from './tensor.js';

export function quantizeRowsReference(src: Float32Array, shape: [number, number], dtype: WeightDType): WeightTensor {
  const [rows, k] = shape;
  const data = new Uint8Array(byteSize(dtype, rows * k));
  const view = new DataView(data.buffer);
  const f = new Float32Array(1);
  const round32 = (x: number): number => ((f[0] = x), f[0]!);
  switch (dtype) {
    case 'f32':
      data.set(new Uint8Array(src.buffer, src.byteOffset, rows * k * 4));
      break;
    case 'f16':
      for (let i = 0; i < rows * k; i++) view.setUint16(i * 2, floatToHalf(src[i]!), true);
      break;
    case 'bf16':
      for (let i = 0; i < rows * k; i++) view.setUint16(i * 2, floatToBf16(src[i]!), true);
      break;
    case 'q8_0':
      // d = max|x| / 127, q = round(x / d) (half away from zero), d stored as f16.
      for (let b = 0; b < (rows * k) / 32; b++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[b * 32 + j]!));
        const d = round32(amax / 127);
        const id = d !== 0 ? round32(1 / d) : 0;
        view.setUint16(b * 34, floatToHalf(d), true);
        for (let j = 0; j < 32; j++) {
          const v = round32(src[b * 32 + j]! * id);
          view.setInt8(b * 34 + 2 + j, Math.sign(v) * Math.round(Math.abs(v)));
        }
      }
      break;
    case 'q4_0':
      // The signed value of largest magnitude maps to -8: d = max / -8, q = min(15, trunc(x / d + 8.5)).
      for (let b = 0; b < (rows * k) / 32; b++) {
        let amax = 0;
        let max = 0;
        for (let j = 0; j < 32; j++) {
          const v = src[b * 32 + j]!;
          if (Math.abs(v) > amax) {
            amax = Math.abs(v);
            max = v;
          }
        }
        const d = round32(max / -8);
        const id = d !== 0 ? round32(1 / d) : 0;
        view.setUint16(b * 18, floatToHalf(d), true);
        const q = (v: number): number => Math.min(15, Math.trunc(round32(round32(v * id) + 8.5)));
        for (let j = 0; j < 16; j++) data[b * 18 + 2 + j] = q(src[b * 32 + j]!) | (q(src[b * 32 + 16 + j]!) << 4);
      }
      break;
    default:
      quantizeBlocks(dtype, src.subarray(0, rows * k), data);
  }
  return { dtype, shape: [rows, k], data };
}

/** Writes `rows` float32 rows of k values into `dst` in `dtype` (a backend's quantizeRows, or the reference). */
export type RowsQuantizer = (dst: Uint8Array, dtype: WeightDType, src: Float32Array, rows: number, k: number) => void;

const referenceRows: RowsQuantizer = (dst, dtype, src, rows, k) => dst.set(quantizeRowsReference(src, [rows, k], dtype).data);

/**
 * Any weight re-encoded in `dtype` (rows are its last dimension), a slab of rows at a time so the
 * float32 copy stays small whatever the tensor's size.
 */
export function convertWeight(t: WeightTensor, dtype: WeightDType, quantizeRows: RowsQuantizer = referenceRows): WeightTensor {
  const k = t.shape[t.shape.length - 1]!;
  const n = numel(t.shape) / k;
  const out = new Uint8Array(byteSize(dtype, n * k));
  const rowBytes = byteSize(dtype, k);
  const slab = Math.max(1, Math.floor((16 << 20) / (k * 4)));
  const f32 = new Float32Array(Math.min(n, slab) * k);
  for (let r0 = 0; r0 < n; r0 += slab) {
    const rows = Math.min(slab, n - r0);
    const src = f32.subarray(0, rows * k);
    dequantize(t, r0 * k, rows * k, src);
    quantizeRows(out.subarray(r0 * rowBytes, (r0 + rows) * rowBytes), dtype, src, rows, k);
  }
  return { dtype, shape: [...t.shape], data: out };
}
