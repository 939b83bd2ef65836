// The specification of every KV-cache format (layouts in ../kv-cache-dtype.ts): one head of one token
// written into its record, and read back. Arithmetic is rounded to float32 at each step (Math.fround)
// and ties go to even, exactly as the native kernels compute, so both write the same bytes.

import { int4GroupSize, type KVCacheDType } from '../kv-cache-dtype.js';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from '../tensor.js';

const fround = Math.fround;

// ---- fp8 (OCP 8-bit floating point) ---------------------------------------------------------------

interface Fp8Spec {
  mantissaBits: number;
  bias: number;
  /** Code of the largest finite value (e4m3 has no infinities; 0x7f is its NaN). */
  maxCode: number;
  max: number;
}

export const FP8_E4M3: Fp8Spec = { mantissaBits: 3, bias: 7, maxCode: 0x7e, max: 448 };
export const FP8_E5M2: Fp8Spec = { mantissaBits: 2, bias: 15, maxCode: 0x7b, max: 57344 };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> fp8, round to nearest even, saturating at the largest finite value. */
export function encodeFp8(x: number, spec: Fp8Spec): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 24) & 0x80;
  const abs = bits & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | spec.maxCode;
  const exp32 = abs >>> 23;
  if (exp32 === 0) return sign; // float32 subnormals are far below any fp8 value
  const e = exp32 - 127 + spec.bias;
  const normal = e >= 1;
  const mant = normal ? abs & 0x7fffff : (abs & 0x7fffff) | 0x800000;
  const shift = 23 - spec.mantissaBits + (normal ? 0 : 1 - e);
  if (shift > 25) return sign;
  // A carry out of the mantissa steps the exponent up, which is the right code (also from subnormal to normal).
  let code = (normal ? e << spec.mantissaBits : 0) + Math.floor(mant / 2 ** shift);
  const rem = mant % 2 ** shift;
  const half = 2 ** (shift - 1);
  if (rem > half || (rem === half && code & 1)) code++;
  return sign | Math.min(code, spec.maxCode);
}

export function decodeFp8(code: number, spec: Fp8Spec): number {
  const m = spec.mantissaBits;
  const e = (code & 0x7f) >> m;
  const man = code & ((1 << m) - 1);
  const v = e === 0 ? man * 2 ** (1 - spec.bias - m) : (1 + man / 2 ** m) * 2 ** (e - spec.bias);
  return code & 0x80 ? -v : v;
}

const E4M3_TABLE = Float32Array.from({ length: 256 }, (_, c) => decodeFp8(c, FP8_E4M3));
const E5M2_TABLE = Float32Array.from({ length: 256 }, (_, c) => decodeFp8(c, FP8_E5M2));

// ---- scales ---------------------------------------------------------------------------------------

/** Rounds a float32 to bf16 away from zero, so a value scaled by its inverse never exceeds the range. */
export function bf16RoundedUp(x: number): number {
  f32[0] = x;
  let b = u32[0]!;
  if (b & 0xffff) b = (b + 0x10000) >>> 0;
  return (b >>> 16) & 0xffff;
}

/** Round half to even, as C's nearbyint in the default rounding mode. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function maxAbs(src: Float32Array, off: number, n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(src[off + i]!));
  return m;
}

// ---- one head record ------------------------------------------------------------------------------

/** Writes src[srcOff .. srcOff + headDim) into the record at dst[dstOff]. */
export function writeHeadRecord(dtype: KVCacheDType, src: Float32Array, srcOff: number, headDim: number, dst: Uint8Array, dstOff: number): void {
  const view = new DataView(dst.buffer, dst.byteOffset + dstOff);
  switch (dtype) {
    case 'f32':
      for (let i = 0; i < headDim; i++) view.setFloat32(i * 4, src[srcOff + i]!, true);
      return;
    case 'f16':
      for (let i = 0; i < headDim; i++) view.setUint16(i * 2, floatToHalf(src[srcOff + i]!), true);
      return;
    case 'bf16':
      for (let i = 0; i < headDim; i++) view.setUint16(i * 2, floatToBf16(src[srcOff + i]!), true);
      return;
    case 'int8':
    case 'fp8_e4m3':
    case 'fp8_e5m2': {
      const spec = dtype === 'fp8_e4m3' ? FP8_E4M3 : FP8_E5M2;
      const qmax = dtype === 'int8' ? 127 : spec.max;
      const sBits = bf16RoundedUp(fround(maxAbs(src, srcOff, headDim) / qmax));
      const s = bf16ToFloat(sBits);
      const inv = s !== 0 ? fround(1 / s) : 0;
      for (let i = 0; i < headDim; i++) {
        const x = fround(src[srcOff + i]! * inv);
        view.setUint8(i, dtype === 'int8' ? Math.max(-127, Math.min(127, roundHalfEven(x))) & 0xff : encodeFp8(x, spec));
      }
      view.setUint16(headDim, sBits, true);
      return;
    }
    case 'int4': {
      const g = int4GroupSize(headDim);
      for (let g0 = 0; g0 < headDim; g0 += g) {
        let amax = 0;
        let max = 0;
        for (let j = 0; j < g; j++) {
          const v = src[srcOff + g0 + j]!;
          if (Math.abs(v) > amax) {
            amax = Math.abs(v);
            max = v;
          }
        }
        const dBits = bf16RoundedUp(fround(max / -8));
        const d = bf16ToFloat(dBits);
        const inv = d !== 0 ? fround(1 / d) : 0;
        const q = (v: number): number => Math.max(0, Math.min(15, roundHalfEven(fround(v * inv)) + 8));
        for (let j = 0; j < g / 2; j++) {
          view.setUint8(g0 / 2 + j, q(src[srcOff + g0 + j]!) | (q(src[srcOff + g0 + g / 2 + j]!) << 4));
        }
        view.setUint16(headDim / 2 + (g0 / g) * 2, dBits, true);
      }
      return;
    }
  }
}

/** Reads the record at src[srcOff] into out[outOff .. outOff + headDim). */
export function readHeadRecord(dtype: KVCacheDType, src: Uint8Array, srcOff: number, headDim: number, out: Float32Array, outOff = 0): void {
  const view = new DataView(src.buffer, src.byteOffset + srcOff);
  switch (dtype) {
    case 'f32':
      for (let i = 0; i < headDim; i++) out[outOff + i] = view.getFloat32(i * 4, true);
      return;
    case 'f16':
      for (let i = 0; i < headDim; i++) out[outOff + i] = halfToFloat(view.getUint16(i * 2, true));
      return;
    case 'bf16':
      for (let i = 0; i < headDim; i++) out[outOff + i] = bf16ToFloat(view.getUint16(i * 2, true));
      return;
    case 'int8':
    case 'fp8_e4m3':
    case 'fp8_e5m2': {
      const s = bf16ToFloat(view.getUint16(headDim, true));
      const table = dtype === 'fp8_e4m3' ? E4M3_TABLE : E5M2_TABLE;
      for (let i = 0; i < headDim; i++) out[outOff + i] = fround((dtype === 'int8' ? view.getInt8(i) : table[view.getUint8(i)]!) * s);
      return;
    }
    case 'int4': {
      const g = int4GroupSize(headDim);
      for (let g0 = 0; g0 < headDim; g0 += g) {
        const d = bf16ToFloat(view.getUint16(headDim / 2 + (g0 / g) * 2, true));
        for (let j = 0; j < g / 2; j++) {
          const b = view.getUint8(g0 / 2 + j);
          out[outOff + g0 + j] = fround(((b & 0x0f) - 8) * d);
          out[outOff + g0 + g / 2 + j] = fround(((b >> 4) - 8) * d);
        }
      }
      return;
    }
  }
}
