// Token logprobs in the two shapes OpenAI uses: the legacy completions object and chat's list.

import type { TokenLogprobs } from '../engine/sampling/sampler.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';

function tokenText(tokenizer: Tokenizer | null, id: number): string {
  return tokenizer ? Buffer.from(tokenizer.tokenBytes(id)).toString('utf8') : `<${id}>`;
}

function tokenBytes(tokenizer: Tokenizer | null, id: number): number[] {
  return tokenizer ? [...tokenizer.tokenBytes(id)] : [];
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
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
