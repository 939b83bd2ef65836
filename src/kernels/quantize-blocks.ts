// Float32 rows into the block formats past q8_0/q4_0, the way llama.cpp's llama-quantize writes them
// without an importance matrix: the legacy formats by their reference rounding, the K-quants by
// searching each sub-block's scale (and min) for the least weighted error, then quantizing those
// scales against a super-block scale, and iq4 by searching the scale over its non-linear grid
// (ggml-quants.c: quantize_row_*_ref, make_qx_quants, make_q3_quants, make_qkx2_quants,
// quantize_row_iq4_nl_impl). Float arithmetic is float32 step by step (Math.fround), as in C.

import { IQ4_VALUES } from './block-decoders.js';
import { WEIGHT_FORMATS, type WeightDType } from './formats.js';
import { floatToHalf, halfToFloat } from './tensor.js';

const f = Math.fround;
const GROUP_MAX_EPS = 1e-15;
const AUX = new Uint8Array(32);

/** Round half to even, as ggml's nearest_int (the 1.5 x 2^23 trick). */
function nearestInt(x: number): number {
  return f(x + 12582912) - 12582912;
}

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

/** The value of largest magnitude, signed (the first of equals), and that magnitude. */
function signedMax(x: Float32Array): [max: number, amax: number] {
  let amax = 0, max = 0;
  for (let i = 0; i < x.length; i++) {
    if (Math.abs(x[i]!) > amax) {
      amax = Math.abs(x[i]!);
      max = x[i]!;
    }
  }
  return [max, amax];
}

/** Stores x as f16 and returns the value the decoder will read back. */
function putHalf(d: Uint8Array, off: number, x: number): number {
  const h = floatToHalf(x);
  d[off] = h & 255;
  d[off + 1] = h >> 8;
  return halfToFloat(h);
}

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

// ---- scale searches ---------------------------------------------------------------------------------

/** Symmetric levels -nmax .. nmax-1 weighted by x^2 (q6_K): the best of 19 trial scales. Returns the scale; L holds level + nmax. */
function makeQxQuants(x: Float32Array, L: Int8Array, nmax: number): number {
  const [max, amax] = signedMax(x);
  if (amax < GROUP_MAX_EPS) {
    L.fill(0);
    return 0;
  }
  const trial = (iscale: number): [number, number] => {
    let sumlx = 0, suml2 = 0;
    for (let i = 0; i < x.length; i++) {
      const l = clamp(nearestInt(f(iscale * x[i]!)), -nmax, nmax - 1);
      const w = f(x[i]! * x[i]!);
      sumlx = f(sumlx + f(f(w * x[i]!) * l));
      suml2 = f(suml2 + f(f(w * l) * l));
    }
    return [sumlx, suml2];
  };
  const setL = (iscale: number) => {
    for (let i = 0; i < x.length; i++) L[i] = nmax + clamp(nearestInt(f(iscale * x[i]!)), -nmax, nmax - 1);
  };
  let iscale = f(-nmax / max);
  let [sumlx, suml2] = trial(iscale);
  setL(iscale);
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(f(-(nmax + f(0.1 * is))) / max);
    [sumlx, suml2] = trial(iscale);
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      setL(iscale);
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

/** Symmetric levels -nmax .. nmax-1 (q3_K), refined element by element for the x^2-weighted error. L holds level + nmax. */
function makeQ3Quants(x: Float32Array, L: Int8Array, nmax: number): number {
  const [max, amax] = signedMax(x);
  if (amax < GROUP_MAX_EPS) {
    L.fill(0);
    return 0;
  }
  const iscale = f(-nmax / max);
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < x.length; i++) {
    const l = clamp(nearestInt(f(iscale * x[i]!)), -nmax, nmax - 1);
    L[i] = l;
    const w = f(x[i]! * x[i]!);
    sumlx = f(sumlx + f(f(w * x[i]!) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < x.length; i++) {
      const w = f(x[i]! * x[i]!);
      let slx = f(sumlx - f(f(w * x[i]!) * L[i]!));
      if (slx > 0) {
        let sl2 = f(suml2 - f(f(w * L[i]!) * L[i]!));
        const nl = clamp(nearestInt(f(f(x[i]! * sl2) / slx)), -nmax, nmax - 1);
        if (nl !== L[i]) {
          slx = f(slx + f(f(w * x[i]!) * nl));
          sl2 = f(sl2 + f(f(w * nl) * nl));
          if (sl2 > 0 && f(f(f(slx * slx) * suml2)) > f(f(sumlx * sumlx) * sl2)) {
            L[i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (let i = 0; i < x.length; i++) L[i] = L[i]! + nmax;
  return f(sumlx / suml2);
}

/**
 * Levels 0 .. nmax with a min (q2_K, q4_K, q5_K): least weighted error over nstep + 1 trial scales,
 * each with its scale and min solved by weighted least squares. Returns [scale, -min]; L holds levels.
 */
function makeQkx2Quants(x: Float32Array, w: Float32Array, L: Uint8Array, nmax: number, rmin: number, rdelta: number, nstep: number, useMad: boolean): [number, number] {
  const n = x.length;
  let min = x[0]!, max = x[0]!, sumW = w[0]!, sumX = f(sumW * x[0]!);
  for (let i = 1; i < n; i++) {
    if (x[i]! < min) min = x[i]!;
    if (x[i]! > max) max = x[i]!;
    sumW = f(sumW + w[i]!);
    sumX = f(sumX + f(w[i]! * x[i]!));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0);
    return [0, -min];
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestMad = 0;
  for (let i = 0; i < n; i++) {
    const l = clamp(nearestInt(f(iscale * f(x[i]! - min))), 0, nmax);
    L[i] = l;
    const diff = f(f(f(scale * l) + min) - x[i]!);
    bestMad = f(bestMad + f(w[i]! * (useMad ? Math.abs(diff) : f(diff * diff))));
  }
  const aux = AUX.subarray(0, n);
  for (let is = 0; is <= nstep; is++) {
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = clamp(nearestInt(f(iscale * f(x[i]! - min))), 0, nmax);
      aux[i] = l;
      const wl = f(w[i]! * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * x[i]!));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let mad = 0;
      for (let i = 0; i < n; i++) {
        const diff = f(f(f(thisScale * aux[i]!) + thisMin) - x[i]!);
        mad = f(mad + f(w[i]! * (useMad ? Math.abs(diff) : f(diff * diff))));
      }
      if (mad < bestMad) {
        L.set(aux);
        bestMad = mad;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return [scale, -min];
}

// ---- K-quants ------------------------------------------------------------------------------------------

function quantizeQ2K(x: Float32Array, d: Uint8Array, off: number): void {
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
  for (let n = 0; n < 2; n++) {
    for (let l = 0; l < 32; l++) {
      const b = 128 * n + l;
      d[off + 16 + 32 * n + l] = L[b]! | (L[b + 32]! << 2) | (L[b + 64]! << 4) | (L[b + 96]! << 6);
    }
  }
}

function quantizeQ3K(x: Float32Array, d: Uint8Array, off: number): void {
  const L = new Int8Array(256), scales = new Float32Array(16);
  let maxScale = 0, amax = 0;
  for (let j = 0; j < 16; j++) {
    scales[j] = makeQ3Quants(x.subarray(16 * j, 16 * j + 16), L.subarray(16 * j, 16 * j + 16), 4);
    if (Math.abs(scales[j]!) > amax) {
      amax = Math.abs(scales[j]!);
      maxScale = scales[j]!;
    }
  }
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
  for (let n = 0; n < 2; n++) {
    for (let l = 0; l < 32; l++) {
      const b = 128 * n + l;
      d[off + 32 + 32 * n + l] = L[b]! | (L[b + 32]! << 2) | (L[b + 64]! << 4) | (L[b + 96]! << 6);
    }
  }
}

// q4_K and q5_K: per 32, scale and min searched with weights av(|x|) + |x|, both quantized to 6 bits.
function quantizeQ45K(x: Float32Array, d: Uint8Array, off: number, bits: 4 | 5): void {
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

function quantizeQ6K(x: Float32Array, d: Uint8Array, off: number): void {
  const L = new Int8Array(256), scales = new Float32Array(16);
  let maxScale = 0, maxAbs = 0;
  for (let j = 0; j < 16; j++) {
    scales[j] = makeQxQuants(x.subarray(16 * j, 16 * j + 16), L.subarray(16 * j, 16 * j + 16), 32);
    if (Math.abs(scales[j]!) > maxAbs) {
      maxAbs = Math.abs(scales[j]!);
      maxScale = scales[j]!;
    }
  }
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
};

/** Quantizes `count` values (whole blocks) of src into dst. */
export function quantizeBlocks(dtype: WeightDType, src: Float32Array, dst: Uint8Array): void {
  const quantize = BLOCK_QUANTIZERS[dtype]!;
  const { blockSize, blockBytes } = WEIGHT_FORMATS[dtype];
  for (let b = 0; b < src.length / blockSize; b++) quantize(src.subarray(b * blockSize, (b + 1) * blockSize), dst, b * blockBytes);
}
