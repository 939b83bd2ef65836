// vLLM's prompt_logprobs (and OpenAI's echo with logprobs): how likely the model found each prompt
// token given the ones before it, read off the logits of every prompt position. The logits at
// position i score token i + 1; the first prompt token has none. Raw log-probabilities, as the
// sampled tokens' are, with the token's rank among the whole vocabulary.

import type { Request } from '../request.js';
import { logSoftmax, topN } from './logprobs.js';
import type { TokenLogprobs } from './sampler.js';

/** Whether this step's prompt chunk of `req` needs logits at every row. */
export function wantsPromptLogprobs(req: Request): boolean {
  return req.params.promptLogprobs !== undefined && req.outputIds.length === 0 && req.pooling === null;
}

/**
 * Takes the logits [count, vocab] of prompt positions start..start + count - 1 into the request's
 * prompt logprobs (restarted at position 0, as after a preemption).
 */
export function collectPromptLogprobs(req: Request, start: number, logits: Float32Array, count: number, vocab: number): void {
  if (start === 0 || !req.promptLogprobs) req.promptLogprobs = [];
  const n = req.params.promptLogprobs ?? 0;
  for (let r = 0; r < count; r++) {
    const next = start + r + 1;
    if (next >= req.numPromptTokens) break;
    const lp = logSoftmax(logits.subarray(r * vocab, (r + 1) * vocab));
    const token = req.promptIds[next]!;
    let rank = 1;
    for (let v = 0; v < vocab; v++) if (lp[v]! > lp[token]!) rank++;
    req.promptLogprobs.push({ token_id: token, logprob: lp[token]!, top: topN(lp, n), rank } satisfies TokenLogprobs);
  }
}
