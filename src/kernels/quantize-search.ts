// The scale searches of llama.cpp's quantizers (ggml-quants.c: nearest_int, make_qx_quants,
// make_q3_quants, make_qkx2_quants), shared by the block quantizers. Float arithmetic is float32 step
// by step (Math.fround), as in C, so the searches land on llama-quantize's very choices.

import { floatToHalf, halfToFloat } from './tensor.js';

export const f = Math.fround;
export const GROUP_MAX_EPS = 1e-15;
const AUX = new Uint8Array(32);

/** Round half to even, as ggml's nearest_int (the 1.5 x 2^23 trick). */
export function nearestInt(x: number): number {
  return f(x + 12582912) - 12582912;
}

export const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

/** The value of largest magnitude, signed (the first of equals), and that magnitude. */
export function signedMax(x: Float32Array): [max: number, amax: number] {
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
export function putHalf(d: Uint8Array, off: number, x: number): number {
  const h = floatToHalf(x);
  d[off] = h & 255;
  d[off + 1] = h >> 8;
  return halfToFloat(h);
}

// ---- scale searches ---------------------------------------------------------------------------------

/** Symmetric levels -nmax .. nmax-1 weighted by x^2 (q6_K): the best of 19 trial scales. Returns the scale; L holds level + nmax. */
export function makeQxQuants(x: Float32Array, L: Int8Array, nmax: number): number {
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
export function makeQ3Quants(x: Float32Array, L: Int8Array, nmax: number): number {
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
export function makeQkx2Quants(x: Float32Array, w: Float32Array, L: Uint8Array, nmax: number, rmin: number, rdelta: number, nstep: number, useMad: boolean): [number, number] {
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

