// When a load generator sends each request: a Poisson process at `rate` requests/s (burstiness 1), or
// more bursty (< 1) or more regular (> 1) gamma-distributed gaps with the same mean, as vLLM's
// benchmark does; rate Infinity sends everything at once.

import { Rng } from '../util/rng.js';

function standardNormal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** A Gamma(shape, 1) draw (Marsaglia and Tsang). */
export function gammaSample(rng: Rng, shape: number): number {
  if (shape < 1) return gammaSample(rng, shape + 1) * Math.pow(1 - rng.next(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = standardNormal(rng);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Send times in seconds from the start, one per request. */
export function arrivalTimes(count: number, rate: number, burstiness: number, seed: number): number[] {
  if (!(rate > 0)) throw new RangeError('the request rate must be positive');
  if (!(burstiness > 0)) throw new RangeError('burstiness must be positive');
  if (rate === Infinity) return new Array<number>(count).fill(0);
  const rng = new Rng(seed);
  const out: number[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    out.push(t);
    t += gammaSample(rng, burstiness) / (rate * burstiness);
  }
  return out;
}
