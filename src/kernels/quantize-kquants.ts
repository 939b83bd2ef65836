// The K-quants' quantizers, as llama.cpp's quantize_row_q{2,3,4,5,6}_K_ref write them: each
// sub-block's scale (and min) searched, then those scales quantized against the super-block's.

import { GROUP_MAX_EPS, clamp, f, makeQ3Quants, makeQkx2Quants, makeQxQuants, nearestInt, putHalf, signedMax } from './quantize-search.js';

// ---- K-quants ------------------------------------------------------------------------------------------

// 2-bit values (q2_K's, q3_K's low bits) as ggml packs them: each 128 values fill 32 bytes, value
// 32m + l in bits 2m..2m+1 of byte l.
function pack2Bits(L: ArrayLike<number>, d: Uint8Array, at: number): void {
  for (let n = 0; n < 2; n++) {
    for (let l = 0; l < 32; l++) {
      const b = 128 * n + l;
      d[at + 32 * n + l] = L[b]! | (L[b + 32]! << 2) | (L[b + 64]! << 4) | (L[b + 96]! << 6);
    }
  }
}

export function quantizeQ2K(x: Float32Array, d: Uint8Array, off: number): void {
  const L = new Uint8Array(256), scales = new Float32Array(16), mins = new Float32Array(16), w = new Float32Array(16);
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 16; j++) {
    const xb = x.subarray(16 * j, 16 * j + 16);
    for (let l = 0; l < 16; l++) w[l] = Math.abs(xb[l]!);
    [scales[j], mins[j]] = makeQkx2Quants(xb, w, L.subarray(16 * j, 16 * j + 16), 3, -0.5, 0.1, 15, true);
    maxScale = Math.max(maxScale, scales[j]!);
    maxMin = Math.max(maxMin, mins[j]!);
  }
  for (let j = 0; j < 16; j++) d[off + j] = maxScale > 0 ? nearestInt(f(f(15 / maxScale) * scales[j]!)) : 0;
  const dAll = putHalf(d, off + 80, maxScale > 0 ? f(maxScale / 15) : 0);
  if (maxMin > 0) for (let j = 0; j < 16; j++) d[off + j] = d[off + j]! | (nearestInt(f(f(15 / maxMin) * mins[j]!)) << 4);
  const dMin = putHalf(d, off + 82, maxMin > 0 ? f(maxMin / 15) : 0);
  for (let j = 0; j < 16; j++) {
    const dl = f(dAll * (d[off + j]! & 15));
    if (!dl) continue;
    const ml = f(dMin * (d[off + j]! >> 4));
    for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(f(f(x[16 * j + i]! + ml) / dl)), 0, 3);
  }
  pack2Bits(L, d, off + 16);
}

export function quantizeQ3K(x: Float32Array, d: Uint8Array, off: number): void {
  const L = new Int8Array(256), scales = new Float32Array(16);
  for (let j = 0; j < 16; j++) scales[j] = makeQ3Quants(x.subarray(16 * j, 16 * j + 16), L.subarray(16 * j, 16 * j + 16), 4);
  const [maxScale] = signedMax(scales);
  const sc = off + 96;
  d.fill(0, sc, sc + 12);
  let dAll = 0;
  if (maxScale) {
    const iscale = f(-32 / maxScale);
    for (let j = 0; j < 16; j++) {
      const l = clamp(nearestInt(f(iscale * scales[j]!)), -32, 31) + 32;
      if (j < 8) d[sc + j] = l & 15;
      else d[sc + j - 8] = d[sc + j - 8]! | ((l & 15) << 4);
      d[sc + 8 + (j % 4)] = d[sc + 8 + (j % 4)]! | ((l >> 4) << (2 * (j >> 2)));
    }
    dAll = putHalf(d, off + 108, f(1 / iscale));
  } else {
    putHalf(d, off + 108, 0);
  }
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? d[sc + j]! & 15 : d[sc + j - 8]! >> 4;
    const s = (low | (((d[sc + 8 + (j % 4)]! >> (2 * (j >> 2))) & 3) << 4)) - 32;
    const dl = f(dAll * s);
    if (!dl) continue;
    for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(f(x[16 * j + i]! / dl)), -4, 3) + 4;
  }
  // High bits: element j's in bit j / 32 of hmask[j % 32].
  d.fill(0, off, off + 32);
  for (let j = 0; j < 256; j++) {
    if (L[j]! > 3) {
      d[off + (j % 32)] = d[off + (j % 32)]! | (1 << (j >> 5));
      L[j] = L[j]! - 4;
    }
  }
  pack2Bits(L, d, off + 32);
}

// q4_K and q5_K: per 32, scale and min searched with weights av(|x|) + |x|, both quantized to 6 bits.
export function quantizeQ45K(x: Float32Array, d: Uint8Array, off: number, bits: 4 | 5): void {
  const nmax = (1 << bits) - 1;
  const L = new Uint8Array(256), scales = new Float32Array(8), mins = new Float32Array(8), w = new Float32Array(32);
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const xb = x.subarray(32 * j, 32 * j + 32);
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(xb[l]! * xb[l]!));
    const av = f(Math.sqrt(f(sumX2 / 32)));
    for (let l = 0; l < 32; l++) w[l] = f(av + Math.abs(xb[l]!));
    [scales[j], mins[j]] = bits === 4
      ? makeQkx2Quants(xb, w, L.subarray(32 * j, 32 * j + 32), nmax, -1, 0.1, 20, false)
      : makeQkx2Quants(xb, w, L.subarray(32 * j, 32 * j + 32), nmax, -0.5, 0.1, 15, false);
    maxScale = Math.max(maxScale, scales[j]!);
    maxMin = Math.max(maxMin, mins[j]!);
  }
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0, invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  const sc = off + 4;
  const ls = new Uint8Array(8), lm = new Uint8Array(8);
  for (let j = 0; j < 8; j++) {
    ls[j] = Math.min(63, nearestInt(f(invScale * scales[j]!)));
    lm[j] = Math.min(63, nearestInt(f(invMin * mins[j]!)));
  }
  for (let j = 0; j < 4; j++) {
    d[sc + j] = ls[j]! | ((ls[j + 4]! >> 4) << 6);
    d[sc + j + 4] = lm[j]! | ((lm[j + 4]! >> 4) << 6);
    d[sc + j + 8] = (ls[j + 4]! & 15) | ((lm[j + 4]! & 15) << 4);
  }
  const dAll = putHalf(d, off, f(maxScale / 63)), dMin = putHalf(d, off + 2, f(maxMin / 63));
  for (let j = 0; j < 8; j++) {
    const dl = f(dAll * ls[j]!);
    if (!dl) continue;
    const ml = f(dMin * lm[j]!);
    for (let i = 0; i < 32; i++) L[32 * j + i] = clamp(nearestInt(f(f(x[32 * j + i]! + ml) / dl)), 0, nmax);
  }
  const qh = off + 16, qs = off + (bits === 5 ? 48 : 16);
  if (bits === 5) d.fill(0, qh, qh + 32);
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) {
      const lo = L[64 * c + l]!, hi = L[64 * c + 32 + l]!;
      d[qs + 32 * c + l] = (lo & 15) | ((hi & 15) << 4);
      if (bits === 5) d[qh + l] = d[qh + l]! | ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1));
    }
  }
}

export function quantizeQ6K(x: Float32Array, d: Uint8Array, off: number): void {
  const L = new Int8Array(256), scales = new Float32Array(16);
  for (let j = 0; j < 16; j++) scales[j] = makeQxQuants(x.subarray(16 * j, 16 * j + 16), L.subarray(16 * j, 16 * j + 16), 32);
  const [maxScale, maxAbs] = signedMax(scales);
  d.fill(0, off, off + 210);
  if (maxAbs < GROUP_MAX_EPS) return;
  const iscale = f(-128 / maxScale);
  const dAll = putHalf(d, off + 208, f(1 / iscale));
  for (let j = 0; j < 16; j++) d[off + 192 + j] = Math.min(127, nearestInt(f(iscale * scales[j]!))) & 255;
  for (let j = 0; j < 16; j++) {
    const dl = f(dAll * ((d[off + 192 + j]! << 24) >> 24));
    if (!dl) continue;
    for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(f(x[16 * j + i]! / dl)), -32, 31) + 32;
  }
  for (let n = 0; n < 2; n++) {
    const ql = off + 64 * n, qh = off + 128 + 32 * n, b = 128 * n;
    for (let l = 0; l < 32; l++) {
      const q1 = L[b + l]!, q2 = L[b + l + 32]!, q3 = L[b + l + 64]!, q4 = L[b + l + 96]!;
      d[ql + l] = (q1 & 15) | ((q3 & 15) << 4);
      d[ql + l + 32] = (q2 & 15) | ((q4 & 15) << 4);
      d[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
    }
  }
}

