// Weight tensors as the loaders produce them: raw bytes in their storage format, never silently
// widened to float32, so a 4-bit GGUF costs 4 bits per weight in memory too. The backend decides how
// to read each format.

import { WEIGHT_FORMATS, type WeightDType } from './formats.js';
import { dequantizeBlocks } from './block-decoders.js';

export type { WeightDType } from './formats.js';

export function byteSize(dtype: WeightDType, elements: number): number {
  const l = WEIGHT_FORMATS[dtype];
  if (elements % l.blockSize !== 0) {
    throw new Error(`${dtype} needs a multiple of ${l.blockSize} elements, got ${elements}`);
  }
  return (elements / l.blockSize) * l.blockBytes;
}

/** A weight in storage format. 2-D weights are row-major [out, in]. */
export interface WeightTensor {
  dtype: WeightDType;
  shape: number[];
  data: Uint8Array;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Matrices of one format and width stacked: their rows concatenated in order. */
export function concatRows(mats: readonly WeightTensor[]): WeightTensor {
  const first = mats[0]!;
  if (mats.length === 1) return first;
  const cols = first.shape[1]!;
  for (const m of mats) {
    if (m.dtype !== first.dtype || m.shape.length !== 2 || m.shape[1] !== cols) throw new Error('concatRows: matrices of one format and width only');
  }
  const data = new Uint8Array(mats.reduce((s, m) => s + m.data.byteLength, 0));
  let at = 0;
  for (const m of mats) {
    data.set(m.data, at);
    at += m.data.byteLength;
  }
  return { dtype: first.dtype, shape: [mats.reduce((s, m) => s + m.shape[0]!, 0), cols], data };
}

export function weightFromF32(values: Float32Array, shape: number[]): WeightTensor {
  return { dtype: 'f32', shape, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

// ---- half precision -------------------------------------------------------------------------

const HALF_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 31;
    const man = h & 1023;
    t[h] = exp === 0 ? sign * man * 2 ** -24 : exp === 31 ? (man ? NaN : sign * Infinity) : sign * (1 + man / 1024) * 2 ** (exp - 15);
  }
  return t;
})();

export function halfToFloat(h: number): number {
  return HALF_TABLE[h & 0xffff]!;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half, round to nearest even. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = ((b >>> 23) & 0xff) - 127 + 15;
  let man = b & 0x7fffff;
  if (((b >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  if (exp <= 0) {
    if (exp < -10) return sign;
    man |= 0x800000;
    const shift = 14 - exp;
    let r = man >> shift;
    const rem = man & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  if (exp >= 31) return sign | 0x7c00;
  let r = sign | (exp << 10) | (man >> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) r++;
  return r;
}

export function bf16ToFloat(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

export function floatToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---- dequantization: the spec of each format ----------------------------------------------------

/**
 * Writes `count` consecutive elements starting at element `start` of `w` (row-aligned, so `start` is a
 * multiple of the block size) into `out` as float32.
 */
export function dequantize(w: WeightTensor, start: number, count: number, out: Float32Array): void {
  const d = w.data;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  switch (w.dtype) {
    case 'f32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32((start + i) * 4, true);
      return;
    case 'f16':
      for (let i = 0; i < count; i++) out[i] = HALF_TABLE[view.getUint16((start + i) * 2, true)]!;
      return;
    case 'bf16':
      for (let i = 0; i < count; i++) out[i] = bf16ToFloat(view.getUint16((start + i) * 2, true));
      return;
    default:
      dequantizeBlocks(w.dtype, d, start, count, out);
  }
}

/** Whole tensor as float32 (for small vectors: norms, biases). */
export function toFloat32(w: WeightTensor): Float32Array {
  const n = numel(w.shape);
  if (w.dtype === 'f32' && w.data.byteOffset % 4 === 0) {
    return new Float32Array(w.data.buffer, w.data.byteOffset, n);
  }
  const out = new Float32Array(n);
  dequantize(w, 0, n, out);
  return out;
}
