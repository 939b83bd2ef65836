// Float32 rows into the block formats past q8_0/q4_0, the way llama.cpp's llama-quantize writes them
// without an importance matrix: the legacy formats by their reference rounding, the K-quants by
// searching each sub-block's scale (and min) for the least weighted error, then quantizing those
// scales against a super-block scale, and iq4 by searching the scale over its non-linear grid
// (ggml-quants.c: quantize_row_*_ref, quantize_row_iq4_nl_impl; the searches in quantize-search.ts,
// the K-quants in quantize-kquants.ts). Float arithmetic is float32 step by step, as in C.

import { IQ4_VALUES } from './block-decoders.js';
import { quantizeMxfp4Block } from './quantize-mxfp4.js';
import { WEIGHT_FORMATS, type WeightDType } from './formats.js';
import { GROUP_MAX_EPS, clamp, f, nearestInt, putHalf, signedMax } from './quantize-search.js';
import { quantizeQ2K, quantizeQ3K, quantizeQ45K, quantizeQ6K } from './quantize-kquants.js';

// ---- legacy: q4_1, q5_0, q5_1 ----------------------------------------------------------------------

function packNibbles(d: Uint8Array, qs: number, q: ArrayLike<number>): number {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    d[qs + j] = (q[j]! & 15) | ((q[j + 16]! & 15) << 4);
    qh |= ((q[j]! >> 4) & 1) << j;
    qh |= ((q[j + 16]! >> 4) & 1) << (j + 16);
  }
  return qh >>> 0;
}

function putU32(d: Uint8Array, off: number, v: number): void {
  for (let i = 0; i < 4; i++) d[off + i] = (v >>> (8 * i)) & 255;
}

// min .. max in 2^bits - 1 steps: q = trunc((x - min) / d + 0.5).
function quantizeMinMax(x: Float32Array, d: Uint8Array, off: number, bits: 4 | 5): void {
  let min = Infinity, max = -Infinity;
  for (let j = 0; j < 32; j++) {
    min = Math.min(min, x[j]!);
    max = Math.max(max, x[j]!);
  }
  const step = f(f(max - min) / ((1 << bits) - 1));
  const id = step ? f(1 / step) : 0;
  putHalf(d, off, step);
  putHalf(d, off + 2, min);
  const q = new Array<number>(32);
  for (let j = 0; j < 32; j++) q[j] = Math.min((1 << bits) - 1, Math.trunc(f(f(f(x[j]! - min) * id) + 0.5)));
  const qh = packNibbles(d, off + (bits === 5 ? 8 : 4), q);
  if (bits === 5) putU32(d, off + 4, qh);
}

function quantizeQ5_0(x: Float32Array, d: Uint8Array, off: number): void {
  const [max] = signedMax(x);
  const step = f(max / -16);
  const id = step ? f(1 / step) : 0;
  putHalf(d, off, step);
  const q = new Array<number>(32);
  for (let j = 0; j < 32; j++) q[j] = Math.min(31, Math.trunc(f(f(x[j]! * id) + 16.5)));
  putU32(d, off + 2, packNibbles(d, off + 6, q));
}

// ---- iq4 ---------------------------------------------------------------------------------------------------

function bestIq4Index(x: number): number {
  const v = IQ4_VALUES;
  if (x <= v[0]!) return 0;
  if (x >= v[15]!) return 15;
  let lo = 0, hi = 15;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x < v[mid]!) hi = mid;
    else lo = mid;
  }
  return x - v[hi - 1]! < v[hi]! - x ? hi - 1 : hi;
}

// Per 32: the grid scale with the least x^2-weighted error over 15 trials; iq4_xs then quantizes
// those scales to 6 bits against one super-block scale.
function quantizeIq4(x: Float32Array, d: Uint8Array, off: number, superBlock: 32 | 256): void {
  const ntry = 7, nb = superBlock / 32, v = IQ4_VALUES;
  const L = new Uint8Array(superBlock), scales = new Float32Array(nb);
  let maxScale = 0, amaxScale = 0;
  for (let ib = 0; ib < nb; ib++) {
    const xb = x.subarray(32 * ib, 32 * ib + 32);
    const [max, amax] = signedMax(xb);
    if (amax < GROUP_MAX_EPS) {
      scales[ib] = 0;
      continue;
    }
    const trial = (id: number, keep: boolean): [number, number] => {
      let sumqx = 0, sumq2 = 0;
      for (let j = 0; j < 32; j++) {
        const l = bestIq4Index(f(id * xb[j]!));
        if (keep) L[32 * ib + j] = l;
        const q = v[l]!, w = f(xb[j]! * xb[j]!);
        sumqx = f(sumqx + f(f(w * q) * xb[j]!));
        sumq2 = f(sumq2 + f(f(w * q) * q));
      }
      return [sumqx, sumq2];
    };
    let [sumqx, sumq2] = trial(f(1 / f(-max / v[0]!)), true);
    let best = 0;
    let dl = f(sumqx / sumq2);
    best = f(dl * sumqx);
    for (let itry = -ntry; itry <= ntry; itry++) {
      [sumqx, sumq2] = trial(f((itry + v[0]!) / max), false);
      if (sumq2 > 0 && f(sumqx * sumqx) > f(best * sumq2)) {
        dl = f(sumqx / sumq2);
        best = f(dl * sumqx);
      }
    }
    scales[ib] = dl;
    if (Math.abs(dl) > amaxScale) {
      amaxScale = Math.abs(dl);
      maxScale = dl;
    }
  }
  if (superBlock === 32) {
    putHalf(d, off, scales[0]!);
    const id = scales[0] ? f(1 / scales[0]!) : 0;
    for (let j = 0; j < 32; j++) L[j] = bestIq4Index(f(id * x[j]!));
    for (let j = 0; j < 16; j++) d[off + 2 + j] = L[j]! | (L[j + 16]! << 4);
    return;
  }
  const dAll = f(-maxScale / 32);
  putHalf(d, off, dAll);
  const id = dAll ? f(1 / dAll) : 0;
  let scalesH = 0;
  d.fill(0, off + 4, off + 8);
  for (let ib = 0; ib < nb; ib++) {
    const l = clamp(nearestInt(f(id * scales[ib]!)), -32, 31);
    const dl = f(dAll * l);
    const idl = dl ? f(1 / dl) : 0;
    for (let j = 0; j < 32; j++) L[32 * ib + j] = bestIq4Index(f(idl * x[32 * ib + j]!));
    const u = l + 32;
    d[off + 4 + (ib >> 1)] = d[off + 4 + (ib >> 1)]! | ((u & 15) << (4 * (ib & 1)));
    scalesH |= (u >> 4) << (2 * ib);
  }
  d[off + 2] = scalesH & 255;
  d[off + 3] = scalesH >> 8;
  for (let i = 0; i < nb; i++) {
    for (let j = 0; j < 16; j++) d[off + 8 + 16 * i + j] = L[32 * i + j]! | (L[32 * i + 16 + j]! << 4);
  }
}

type BlockQuantizer = (x: Float32Array, d: Uint8Array, off: number) => void;

export const BLOCK_QUANTIZERS: Partial<Record<WeightDType, BlockQuantizer>> = {
  q4_1: (x, d, off) => quantizeMinMax(x, d, off, 4),
  q5_0: quantizeQ5_0,
  q5_1: (x, d, off) => quantizeMinMax(x, d, off, 5),
  q2_k: quantizeQ2K,
  q3_k: quantizeQ3K,
  q4_k: (x, d, off) => quantizeQ45K(x, d, off, 4),
  q5_k: (x, d, off) => quantizeQ45K(x, d, off, 5),
  q6_k: quantizeQ6K,
  iq4_nl: (x, d, off) => quantizeIq4(x, d, off, 32),
  iq4_xs: (x, d, off) => quantizeIq4(x, d, off, 256),
  mxfp4: quantizeMxfp4Block,
};

/** Quantizes `count` values (whole blocks) of src into dst. */
export function quantizeBlocks(dtype: WeightDType, src: Float32Array, dst: Uint8Array): void {
  const quantize = BLOCK_QUANTIZERS[dtype]!;
  const { blockSize, blockBytes } = WEIGHT_FORMATS[dtype];
  for (let b = 0; b < src.length / blockSize; b++) quantize(src.subarray(b * blockSize, (b + 1) * blockSize), dst, b * blockBytes);
}
