// Prompt lookup (n-gram) proposals: find the latest earlier occurrence of the sequence's last n tokens
// (n from the maximum down to the minimum match length) and propose the tokens that followed it. Free
// to compute, and right whenever the output quotes, summarises or edits its input.

export interface NgramOptions {
  minMatch: number;
  maxMatch: number;
}

/** How far back a match's agreement is measured when several occurrences tie on the longest n-gram. */
const MAX_EXTENSION = 64;

/**
 * Up to k tokens that followed the best recent match of the sequence's suffix; [] when none. Matches
 * of the longest length found compete on how far back they keep agreeing with the sequence (the
 * longest real match predicts best; the latest wins ties). A match of n tokens proposes at most 2n:
 * a short match is weak evidence, and each wrong draft costs a row of the verification pass.
 */
export function proposeNgram(tokens: readonly number[], k: number, o: NgramOptions): number[] {
  const n = tokens.length;
  for (let len = Math.min(o.maxMatch, n - 1); len >= o.minMatch; len--) {
    let best = -1;
    let bestAgreement = -1;
    // Latest first, so that ties keep the most recent context. A continuation must start before the suffix.
    for (let start = n - len - 1; start >= 0; start--) {
      if (!sameRun(tokens, start, n - len, len)) continue;
      // Only a match of the maximum length can agree further back (a longer one would have been found).
      let agreement = len;
      if (len === o.maxMatch) {
        while (agreement - len < MAX_EXTENSION && start + len - agreement - 1 >= 0 && tokens[start + len - agreement - 1] === tokens[n - agreement - 1]) agreement++;
      }
      if (agreement > bestAgreement) {
        best = start;
        bestAgreement = agreement;
      }
      if (len < o.maxMatch) break;
    }
    if (best >= 0) return tokens.slice(best + len, Math.min(n, best + len + Math.min(k, 2 * bestAgreement)));
  }
  return [];
}

function sameRun(tokens: readonly number[], a: number, b: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (tokens[a + i] !== tokens[b + i]) return false;
  return true;
}
