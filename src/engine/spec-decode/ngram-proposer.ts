// Prompt lookup (n-gram) proposals: find the latest earlier occurrence of the sequence's last n tokens
// (n from the maximum down to the minimum match length) and propose the tokens that followed it. Free
// to compute, and right whenever the output quotes, summarises or edits its input.

export interface NgramOptions {
  minMatch: number;
  maxMatch: number;
}

/**
 * Up to k tokens that followed the longest recent match of the sequence's suffix; [] when none. A match
 * of n tokens proposes at most 2n: a short match is weak evidence, and each wrong draft costs a row of
 * the verification pass.
 */
export function proposeNgram(tokens: readonly number[], k: number, o: NgramOptions): number[] {
  const n = tokens.length;
  for (let len = Math.min(o.maxMatch, n - 1); len >= o.minMatch; len--) {
    // The latest match wins: recent context predicts best. Its continuation must start before the suffix.
    for (let start = n - len - 1; start >= 0; start--) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (tokens[start + i] !== tokens[n - len + i]) {
          same = false;
          break;
        }
      }
      if (same) return tokens.slice(start + len, Math.min(n, start + len + Math.min(k, 2 * len)));
    }
  }
  return [];
}
