// Logits -> next token, in the order vLLM and transformers apply the processors: token bans
// (min_tokens), penalties, temperature, top-k, top-p, min-p, then a draw from the seeded generator.
// Reported logprobs are those of the raw model output, before any processing (vLLM's default).

import { argmax, logSoftmax, topN } from './logprobs.js';
import type { Rng } from '../../util/rng.js';
import type { SamplingParams } from './sampling-params.js';

export interface TokenLogprobs {
  token_id: number;
  logprob: number;
  /** The top-N alternatives as [id, logprob], largest first. */
  top: [number, number][];
  /** 1 + how many tokens were more likely (prompt logprobs only). */
  rank?: number;
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
  /** Structured outputs: bit t of word t >> 5 set = token t keeps the grammar valid. */
  allowed?: Int32Array;
}

export function sampleToken(logits: Float32Array, ctx: SamplingContext): SampledToken {
  const work = processLogits(logits, ctx);
  const token = ctx.params.temperature === 0 ? argmax(work) : drawFrom(samplingDistribution(work, ctx.params), ctx.rng);
  return withLogprobs(token, logits, ctx.params);
}

/** The token with its raw logprobs attached when the request asks for them. */
export function withLogprobs(token: number, logits: Float32Array, params: SamplingParams): SampledToken {
  const result: SampledToken = { token };
  if (params.logprobs !== undefined) {
    const lp = logSoftmax(logits);
    result.logprobs = { token_id: token, logprob: lp[token]!, top: topN(lp, params.logprobs) };
  }
  return result;
}

/** Logits after the bans (min_tokens) and penalties: what greedy takes the argmax of. */
export function processLogits(logits: Float32Array, ctx: SamplingContext): Float64Array {
  const { params } = ctx;
  const work = Float64Array.from(logits);
  if (ctx.outputTokens.length < params.minTokens) {
    for (const id of [...ctx.eosTokenIds, ...params.stopTokenIds]) if (id < work.length) work[id] = -Infinity;
  }
  for (const [id, bias] of params.logitBias ?? []) if (id < work.length) work[id] = work[id]! + bias;
  applyPenalties(work, ctx);
  if (ctx.allowed) applyGrammarMask(work, ctx.allowed, ctx.eosTokenIds);
  return work;
}

/** Bans every token the grammar forbids; a grammar that allows nothing (a broken matcher) leaves EOS. */
export function applyGrammarMask(work: Float64Array, allowed: Int32Array, eosTokenIds: readonly number[]): void {
  let any = false;
  for (let t = 0; t < work.length; t++) {
    if ((allowed[t >> 5]! >>> (t & 31)) & 1) any = true;
    else work[t] = -Infinity;
  }
  if (!any) for (const id of eosTokenIds) if (id < work.length) work[id] = 0;
}

/**
 * What a temperature > 0 draw picks from: the candidates left by top-k, top-p and min-p (null: every
 * token, in id order) and each token's unnormalized weight (0 outside the candidates' support).
 */
export interface TokenDistribution {
  ids: Int32Array | null;
  weights: Float64Array;
  total: number;
}

/** One draw, consuming one number from the generator. */
export function drawFrom(d: TokenDistribution, rng: Rng): number {
  const { ids, weights } = d;
  let u = rng.next() * d.total;
  if (ids) {
    for (const i of ids) {
      u -= weights[i]!;
      if (u < 0) return i;
    }
    return ids[ids.length - 1]!;
  }
  let last = 0;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] === 0) continue;
    last = i;
    u -= weights[i]!;
    if (u < 0) return i;
  }
  return last;
}

/** Probability of `token` under the distribution. */
export function probabilityOf(d: TokenDistribution, token: number): number {
  if (d.ids && !d.ids.includes(token)) return 0;
  return d.weights[token]! / d.total;
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

// Candidates come out in the order the processors define (logit descending, ties to the lower id), but
// only as many as the truncation needs: a size-k heap for top-k, a heap popped until the nucleus is
// full for top-p. Plain temperature sampling needs no order at all: sorting a 32k vocabulary per token
// cost more than the forward pass at large batches.
export function samplingDistribution(work: Float64Array, params: SamplingParams): TokenDistribution {
  const V = work.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (work[i]! > max) max = work[i]!;
  const probs = new Float64Array(V);
  for (let i = 0; i < V; i++) probs[i] = work[i] === -Infinity ? 0 : Math.exp((work[i]! - max) / params.temperature);

  // null: every finite token, in id order (no truncation asks for an order).
  let ids: Int32Array | null = null;
  if (params.topK > 0) ids = topKDescending(work, params.topK);
  if (params.topP < 1) ids = nucleus(work, probs, ids, params.topP);
  if (params.minP > 0) {
    const list = ids ?? finiteIds(work);
    let total = 0;
    let top = 0;
    for (const i of list) {
      total += probs[i]!;
      top = Math.max(top, probs[i]!);
    }
    // The most likely token always passes (minP <= 1), so the list never empties.
    const threshold = params.minP * (top / total);
    ids = list.filter((i) => probs[i]! / total >= threshold);
  }

  let total = 0;
  if (ids) for (const i of ids) total += probs[i]!;
  else for (let i = 0; i < V; i++) total += probs[i]!;
  return { ids, weights: probs, total };
}

function finiteIds(work: Float64Array): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < work.length; i++) if (work[i]! > -Infinity) out.push(i);
  return Int32Array.from(out);
}

/** a ranks before b: larger logit first, the lower id on ties (torch.topk's order). */
const before = (work: Float64Array, a: number, b: number) => work[a]! > work[b]! || (work[a] === work[b] && a < b);

/** The k best finite tokens, best first, through a size-k heap whose root is the worst kept. */
function topKDescending(work: Float64Array, k: number): Int32Array {
  const heap = new Int32Array(k);
  let size = 0;
  const worse = (a: number, b: number) => before(work, b, a);
  const siftDown = (pos: number) => {
    for (;;) {
      const l = 2 * pos + 1;
      const r = l + 1;
      let m = pos;
      if (l < size && worse(heap[l]!, heap[m]!)) m = l;
      if (r < size && worse(heap[r]!, heap[m]!)) m = r;
      if (m === pos) return;
      [heap[pos], heap[m]] = [heap[m]!, heap[pos]!];
      pos = m;
    }
  };
  for (let i = 0; i < work.length; i++) {
    if (work[i] === -Infinity) continue;
    if (size < k) {
      let pos = size++;
      heap[pos] = i;
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (!worse(heap[pos]!, heap[parent]!)) break;
        [heap[pos], heap[parent]] = [heap[parent]!, heap[pos]!];
        pos = parent;
      }
    } else if (before(work, i, heap[0]!)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.slice(0, size).sort((a, b) => (before(work, a, b) ? -1 : 1));
}

/**
 * The smallest best-first prefix whose probability reaches topP (at least one token). `sorted` is an
 * already ordered candidate list (after top-k); otherwise tokens are popped from a max-heap, so only
 * the nucleus is ever ordered.
 */
function nucleus(work: Float64Array, probs: Float64Array, sorted: Int32Array | null, topP: number): Int32Array {
  if (sorted) {
    let total = 0;
    for (const i of sorted) total += probs[i]!;
    let cum = 0;
    let keep = 0;
    while (keep < sorted.length) {
      cum += probs[sorted[keep]!]! / total;
      keep++;
      if (cum >= topP) break;
    }
    return sorted.subarray(0, keep);
  }
  const heap = finiteIds(work);
  let size = heap.length;
  let total = 0;
  for (const i of heap) total += probs[i]!;
  const siftDown = (pos: number) => {
    for (;;) {
      const l = 2 * pos + 1;
      const r = l + 1;
      let m = pos;
      if (l < size && before(work, heap[l]!, heap[m]!)) m = l;
      if (r < size && before(work, heap[r]!, heap[m]!)) m = r;
      if (m === pos) return;
      [heap[pos], heap[m]] = [heap[m]!, heap[pos]!];
      pos = m;
    }
  };
  for (let pos = (size >> 1) - 1; pos >= 0; pos--) siftDown(pos);
  const out: number[] = [];
  let cum = 0;
  while (size > 0) {
    const best = heap[0]!;
    out.push(best);
    heap[0] = heap[--size]!;
    siftDown(0);
    cum += probs[best]! / total;
    if (cum >= topP) break;
  }
  return Int32Array.from(out);
}
