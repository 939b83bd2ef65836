// The token-level stop conditions, checked as each sampled token joins its request (stop strings
// need the decoded text and are the output processor's).

import type { Request, RequestFinishReason } from '../request.js';

export interface TokenStop {
  reason: Exclude<RequestFinishReason, 'abort'>;
  /** The token that stopped generation (EOS or a stop token), or null for a length stop. */
  stopReason: number | null;
  /** EOS ends the text before its own; a stop token's text is kept (unless special). */
  eos: boolean;
}

/** Checks `token`, the request's latest output token; min_tokens holds EOS and stop tokens back. */
export function checkStop(req: Request, token: number, eos: ReadonlySet<number>): TokenStop | null {
  const count = req.outputIds.length;
  const p = req.params;
  if (count > p.minTokens) {
    if (!p.ignoreEos && eos.has(token)) return { reason: 'stop', stopReason: token, eos: true };
    if (p.stopTokenIds.includes(token)) return { reason: 'stop', stopReason: token, eos: false };
  }
  if (count >= req.maxOutputTokens) return { reason: 'length', stopReason: null, eos: false };
  return null;
}
