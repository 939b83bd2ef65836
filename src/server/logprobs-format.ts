// Token logprobs in the shapes clients read: OpenAI's legacy completions object (with the echoed
// prompt's part), chat's list, and vLLM's prompt_logprobs.

import type { TokenLogprobs } from '../engine/sampling/sampler.js';
import { IncrementalDetokenizer, type Tokenizer } from '../model/tokenizer/tokenizer.js';

function tokenText(tokenizer: Tokenizer | null, id: number): string {
  return tokenizer ? Buffer.from(tokenizer.tokenBytes(id)).toString('utf8') : `<${id}>`;
}

function tokenBytes(tokenizer: Tokenizer | null, id: number): number[] {
  return tokenizer ? [...tokenizer.tokenBytes(id)] : [];
}

export interface CompletionLogprobs {
  tokens: string[];
  /** null for the echoed prompt's first token, which nothing scores. */
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

export function completionLogprobs(tokenizer: Tokenizer | null, lps: readonly TokenLogprobs[], textOffset: number): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = textOffset;
  for (const lp of lps) {
    const text = tokenText(tokenizer, lp.token_id);
    out.tokens.push(text);
    out.token_logprobs.push(lp.logprob);
    out.top_logprobs.push(Object.fromEntries(lp.top.map(([id, v]) => [tokenText(tokenizer, id), v])));
    out.text_offset.push(offset);
    offset += text.length;
  }
  return out;
}

/**
 * The echoed prompt's logprobs (echo with logprobs): `lps` scores each prompt token after the first;
 * offsets are into the echoed text, which skips special tokens as the echo does.
 */
export function echoLogprobs(tokenizer: Tokenizer | null, promptIds: readonly number[], lps: readonly TokenLogprobs[], topN: number): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  const detok = tokenizer ? new IncrementalDetokenizer(tokenizer, { skipSpecialTokens: true, startOfText: true }) : null;
  let offset = 0;
  promptIds.forEach((id, i) => {
    const lp = i > 0 ? lps[i - 1] : undefined;
    out.tokens.push(tokenText(tokenizer, id));
    out.token_logprobs.push(lp ? lp.logprob : null);
    out.top_logprobs.push(lp ? Object.fromEntries(lp.top.slice(0, topN).map(([t, v]) => [tokenText(tokenizer, t), v])) : null);
    out.text_offset.push(offset);
    offset += detok ? detok.push(id).length : 0;
  });
  return out;
}

/** One vLLM prompt_logprobs entry: token id -> {logprob, rank, decoded_token}. */
type PromptLogprobEntry = Record<string, { logprob: number; rank: number; decoded_token: string }>;

/** vLLM's prompt_logprobs: null for the first prompt token, then the token and the top `topN` at each position. */
export function promptLogprobsList(tokenizer: Tokenizer | null, lps: readonly TokenLogprobs[], topN: number): (PromptLogprobEntry | null)[] {
  return [null, ...lps.map((lp) => {
    const entry: PromptLogprobEntry = {};
    lp.top.slice(0, topN).forEach(([id, v], k) => (entry[id] = { logprob: v, rank: k + 1, decoded_token: tokenText(tokenizer, id) }));
    entry[lp.token_id] = { logprob: lp.logprob, rank: lp.rank ?? 1, decoded_token: tokenText(tokenizer, lp.token_id) };
    return entry;
  })];
}

export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export function chatLogprobs(tokenizer: Tokenizer | null, lps: readonly TokenLogprobs[]): { content: ChatTokenLogprob[] } {
  return {
    content: lps.map((lp) => ({
      token: tokenText(tokenizer, lp.token_id),
      logprob: lp.logprob,
      bytes: tokenBytes(tokenizer, lp.token_id),
      top_logprobs: lp.top.map(([id, v]) => ({ token: tokenText(tokenizer, id), logprob: v, bytes: tokenBytes(tokenizer, id) })),
    })),
  };
}
