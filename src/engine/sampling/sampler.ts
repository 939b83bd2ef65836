// Logits -> next token, in the order vLLM and transformers apply the processors: token bans
// (min_tokens), penalties, temperature, top-k, top-p, min-p, then a draw from the seeded generator.
// Reported logprobs are those of the raw model output, before any processing (vLLM's default).

import { argmax, logSoftmax, topN } from './logprobs.js';
import type { Rng } from './rng.js';
import type { SamplingParams } from './sampling-params.js';

export interface TokenLogprobs {
  token_id: number;
  logprob: number;
  /** The top-N alternatives as [id, logprob], largest first. */
  top: [number, number][];
}

export interface SampledToken {
  token: number;
  logprobs?: TokenLogprobs;
}

export interface SamplingContext {
  params: SamplingParams;
  promptTokens: readonly number[];
  outputTokens: readonly number[];
  eosTokenIds: readonly number[];
  rng: Rng;
}

export function sampleToken(logits: Float32Array, ctx: SamplingContext): SampledToken {
  const { params } = ctx;
  const work = Float64Array.from(logits);

  if (ctx.outputTokens.length < params.minTokens) {
    for (const id of [...ctx.eosTokenIds, ...params.stopTokenIds]) if (id < work.length) work[id] = -Infinity;
  }
  applyPenalties(work, ctx);

  const token = params.temperature === 0 ? argmax(work) : draw(work, params, ctx.rng);
  const result: SampledToken = { token };
  if (params.logprobs !== undefined) {
    const lp = logSoftmax(logits);
    result.logprobs = { token_id: token, logprob: lp[token]!, top: topN(lp, params.logprobs) };
  }
  return result;
}

function applyPenalties(work: Float64Array, ctx: SamplingContext): void {
  const { repetitionPenalty, presencePenalty, frequencyPenalty } = ctx.params;
  if (repetitionPenalty !== 1) {
    const seen = new Set([...ctx.promptTokens, ...ctx.outputTokens]);
    for (const id of seen) {
      if (id >= work.length) continue;
      const v = work[id]!;
      work[id] = v > 0 ? v / repetitionPenalty : v * repetitionPenalty;
    }
  }
  if (presencePenalty !== 0 || frequencyPenalty !== 0) {
    const counts = new Map<number, number>();
    for (const id of ctx.outputTokens) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [id, count] of counts) {
      if (id < work.length) work[id] = work[id]! - frequencyPenalty * count - presencePenalty;
    }
  }
}

function draw(work: Float64Array, params: SamplingParams, rng: Rng): number {
  const V = work.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, work[i]!);
  // Candidates, most likely first, with unnormalized probabilities at this temperature.
  let ids = Array.from({ length: V }, (_, i) => i).filter((i) => work[i]! > -Infinity);
  ids.sort((a, b) => work[b]! - work[a]! || a - b);
  if (params.topK > 0 && ids.length > params.topK) ids = ids.slice(0, params.topK);
  let probs = ids.map((i) => Math.exp((work[i]! - max) / params.temperature));
  let total = probs.reduce((a, b) => a + b, 0);

  if (params.topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < ids.length) {
      cum += probs[keep]! / total;
      keep++;
      if (cum >= params.topP) break;
    }
    ids = ids.slice(0, keep);
    probs = probs.slice(0, keep);
    total = probs.reduce((a, b) => a + b, 0);
  }
  if (params.minP > 0) {
    const threshold = params.minP * (probs[0]! / total);
    const keep = probs.filter((p) => p / total >= threshold).length;
    ids = ids.slice(0, Math.max(1, keep));
    probs = probs.slice(0, Math.max(1, keep));
    total = probs.reduce((a, b) => a + b, 0);
  }

  let u = rng.next() * total;
  for (let i = 0; i < ids.length; i++) {
    u -= probs[i]!;
    if (u < 0) return ids[i]!;
  }
  return ids[ids.length - 1]!;
}
