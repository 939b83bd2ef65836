// Log-probabilities and the small vector helpers the sampler shares.

/** Index of the largest value (the first one on ties). */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** log_softmax in float64. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! - lse;
  return out;
}

/** The n largest entries as [id, value], largest first (lower id first on ties). */
export function topN(values: ArrayLike<number>, n: number): [number, number][] {
  const out: [number, number][] = [];
  if (n <= 0) return out;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (out.length < n || v > out[out.length - 1]![1]) {
      let j = out.length < n ? out.length : n - 1;
      if (out.length < n) out.push([i, v]);
      while (j > 0 && out[j - 1]![1] < v) {
        out[j] = out[j - 1]!;
        j--;
      }
      out[j] = [i, v];
    }
  }
  return out;
}
