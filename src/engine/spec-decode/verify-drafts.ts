// Verification of one sequence's draft tokens against the target's logits at each draft position
// (row i scores the token after the i-th; row k, after all k drafts, gives the bonus token).
//
// Greedy: drafts are accepted while they equal the target's argmax; the first mismatch is replaced by
// the target's own token, and when every draft passes the target adds one more.
// Sampling: rejection sampling (Leviathan et al.; Chen et al.), which leaves the target's distribution
// exactly as it was: draft d is accepted with probability min(1, p(d) / q(d)); on rejection the token
// is drawn from max(0, p - q), normalized. Proposers that pick deterministically (n-gram lookup, greedy
// drafts) have q = one-hot(d): acceptance is p(d), and the residual is p without d.

import type { Rng } from '../../util/rng.js';
import { argmax } from '../sampling/logprobs.js';
import { drawFrom, probabilityOf, processLogits, samplingDistribution, withLogprobs, type SampledToken, type SamplingContext } from '../sampling/sampler.js';

export interface VerifyInput {
  /** [drafts.length + 1, vocab] target logits. */
  logits: Float32Array;
  vocab: number;
  drafts: readonly number[];
  /** The draft's proposal distribution per position (normalized, full vocabulary); null = one-hot. */
  draftProbs: readonly (Float64Array | null)[] | null;
  ctx: SamplingContext;
  /** Structured outputs: the grammar's mask at each position (drafts.length + 1 of them). */
  masks?: readonly Int32Array[];
}

export interface VerifyResult {
  /** Accepted drafts, then the target's own token (always at least one token). */
  tokens: SampledToken[];
  numAccepted: number;
}

export function verifyDrafts(v: VerifyInput): VerifyResult {
  const { params } = v.ctx;
  const tokens: SampledToken[] = [];
  const outputs = [...v.ctx.outputTokens];
  for (let i = 0; i <= v.drafts.length; i++) {
    const row = v.logits.subarray(i * v.vocab, (i + 1) * v.vocab);
    const work = processLogits(row, { ...v.ctx, outputTokens: outputs, ...(v.masks ? { allowed: v.masks[i]! } : {}) });
    const draft = v.drafts[i];
    let token: number;
    if (params.temperature === 0) {
      token = argmax(work);
    } else {
      const dist = samplingDistribution(work, params);
      if (draft === undefined) {
        token = drawFrom(dist, v.ctx.rng);
      } else {
        const q = v.draftProbs?.[i] ?? null;
        const p = probabilityOf(dist, draft);
        const qd = q ? q[draft]! : 1;
        token = v.ctx.rng.next() < Math.min(1, p / qd) ? draft : drawResidual(dist, q, draft, v.ctx.rng);
      }
    }
    tokens.push(withLogprobs(token, row, params));
    outputs.push(token);
    if (draft === undefined || token !== draft) break;
  }
  return { tokens, numAccepted: tokens.length - 1 };
}

/** A draw from max(0, p - q), normalized; q null is one-hot at `draft`. */
function drawResidual(dist: ReturnType<typeof samplingDistribution>, q: Float64Array | null, draft: number, rng: Rng): number {
  const weights = new Float64Array(dist.weights.length);
  let total = 0;
  const visit = (i: number) => {
    const p = dist.weights[i]! / dist.total;
    const w = q ? Math.max(0, p - q[i]!) : i === draft ? 0 : p;
    weights[i] = w;
    total += w;
  };
  if (dist.ids) for (const i of dist.ids) visit(i);
  else for (let i = 0; i < weights.length; i++) visit(i);
  // p <= q everywhere means p = q: the draft could not have been rejected, but rounding can get here.
  if (total === 0) return draft;
  return drawFrom({ ids: dist.ids, weights, total }, rng);
}
