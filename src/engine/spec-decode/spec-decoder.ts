// Everything of speculative decoding the engine core sees: after a step, drafts for every request
// that will decode next (as many as the pacing allows and the reserved lookahead slots hold); in the
// step, verification of a request's drafts against the target's logits; and the statistics.

import type { CausalLM } from '../../model/architectures/decoder.js';
import type { EngineConfig } from '../engine-config.js';
import type { Request } from '../request.js';
import type { ModelRunner } from '../runner/model-runner.js';
import type { SampledToken, SamplingContext } from '../sampling/sampler.js';
import { DraftPacer } from './draft-pacing.js';
import { makeProposer, type Proposer } from './proposer.js';
import type { SpeculativeConfig } from './speculative-config.js';
import { verifyDrafts } from './verify-drafts.js';

export interface SpecDecodeStats {
  /** Draft runs verified: one per sequence per step with drafts. */
  numDrafts: number;
  numDraftTokens: number;
  numAcceptedTokens: number;
  /** Accepted drafts by position in the draft (0 = first). */
  acceptedPerPosition: number[];
  /** Milliseconds spent proposing (draft model passes, n-gram lookup). */
  draftMs: number;
}

export class SpecDecoder {
  private readonly proposer: Proposer;
  private readonly pacer = new DraftPacer();
  private readonly k: number;
  private readonly statsSoFar: SpecDecodeStats;

  constructor(
    spec: SpeculativeConfig,
    private readonly runner: ModelRunner,
    config: EngineConfig,
    private readonly maxSequenceTokens: number,
    draft?: CausalLM,
  ) {
    this.proposer = makeProposer(spec, runner, config, draft);
    this.k = spec.numSpeculativeTokens;
    this.statsSoFar = { numDrafts: 0, numDraftTokens: 0, numAcceptedTokens: 0, acceptedPerPosition: new Array<number>(this.k).fill(0), draftMs: 0 };
  }

  /** Slots the scheduler keeps free past a request's tokens for drafts that write K/V. */
  get numLookaheadTokens(): number {
    return this.proposer.needsBlocks ? this.k : 0;
  }

  /**
   * The accepted drafts and the target's own token, from drafts.length + 1 rows of logits. `masks`:
   * a constrained request's grammar masks per position; drafts past the ones they cover were refused
   * by the grammar and cannot be accepted.
   */
  verify(req: Request, logits: Float32Array, drafts: readonly number[], ctx: SamplingContext, masks?: readonly Int32Array[]): { tokens: SampledToken[]; numRejected: number } {
    const usable = masks ? drafts.slice(0, masks.length - 1) : drafts;
    const q = req.draft.probs.length > 0 ? req.draft.probs.slice(0, usable.length) : null;
    const v = verifyDrafts({ logits, vocab: this.runner.model.config.vocabSize, drafts: usable, draftProbs: q, ctx, ...(masks ? { masks } : {}) });
    const st = this.statsSoFar;
    st.numDrafts++;
    st.numDraftTokens += drafts.length;
    st.numAcceptedTokens += v.numAccepted;
    for (let i = 0; i < v.numAccepted; i++) st.acceptedPerPosition[i]!++;
    this.pacer.record(req.draft.pace, drafts.length, v.numAccepted);
    return { tokens: v.tokens, numRejected: drafts.length - v.numAccepted };
  }

  /** Drafts for the next step, for every running request with one token to decode. */
  propose(requests: Iterable<Request>, eosTokenIds: readonly number[]): void {
    const bs = this.runner.blockSize;
    const reqs: Request[] = [];
    const counts: number[] = [];
    for (const req of requests) {
      req.draft.tokenIds = [];
      req.draft.probs = [];
      // Embedding requests sample nothing.
      if (req.status !== 'running' || req.numPendingTokens !== 1 || req.pooling) continue;
      let room = Math.min(this.pacer.allowance(req.draft.pace, this.k), req.maxOutputTokens - req.outputIds.length - 1, this.maxSequenceTokens - req.numTokens - 1);
      // A draft model writes the drafts' K/V into the slots reserved past the request's last token.
      if (this.proposer.needsBlocks) room = Math.min(room, req.blockTable.length * bs - req.numTokens + 1);
      if (room <= 0) continue;
      reqs.push(req);
      counts.push(room);
    }
    const t0 = performance.now();
    this.proposer.propose(reqs, counts, eosTokenIds).forEach((drafts, i) => (reqs[i]!.draft.tokenIds = drafts));
    this.statsSoFar.draftMs += performance.now() - t0;
  }

  stats(): SpecDecodeStats {
    return { ...this.statsSoFar, acceptedPerPosition: [...this.statsSoFar.acceptedPerPosition] };
  }
}
