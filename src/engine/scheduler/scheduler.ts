// What a scheduler decides each step, the knobs it decides by, and what every scheduler does after
// the step: `update` takes the sampled tokens into their requests, checks the token-level stop
// conditions and frees the blocks of requests that finished. One step is one forward pass over the
// tokens of `scheduled`.

import type { CachedPrefix, KVCacheManager } from '../kv-cache/kv-cache-manager.js';
import { epochMs, type Request, type RequestFinishReason } from '../request.js';
import { clearDrafts } from '../spec-decode/draft-state.js';
import type { TokenLogprobs } from '../sampling/sampler.js';
import { checkStop, type TokenStop } from './stop-check.js';

export const SCHEDULER_KINDS = ['continuous', 'static'] as const;
export type SchedulerKind = (typeof SCHEDULER_KINDS)[number];
export const SCHEDULING_POLICIES = ['fcfs', 'priority'] as const;
export type SchedulingPolicy = (typeof SCHEDULING_POLICIES)[number];

export interface SchedulerConfig {
  /** Tokens per step, decode tokens and prefill chunks together. */
  maxNumBatchedTokens: number;
  /** Requests running at once. */
  maxNumSeqs: number;
  policy: SchedulingPolicy;
  /**
   * Slots reserved past a request's scheduled tokens when the step reaches its end, for the draft
   * tokens a draft model writes before the next step (speculative decoding; 0 = none).
   */
  numLookaheadTokens: number;
  /** Recompute every request's whole sequence each step (the KV cache off, for comparison). */
  recompute: boolean;
}

export interface ScheduledRequest {
  req: Request;
  /** Tokens of this request computed in this step, from req.numComputedTokens on, drafts included. */
  numNewTokens: number;
  /** Speculative tokens after the request's real ones, verified in this step (none when absent). */
  draftTokens?: number[];
}

export interface SchedulerOutput {
  scheduled: ScheduledRequest[];
  /** Requests whose blocks were taken back this step; they wait to be recomputed. */
  preempted: Request[];
  /** Rows of wasted work a padded static batch would compute (0 for continuous batching). */
  paddingRows: number;
}

/**
 * What a step may take when passes overlap (pipeline stages): requests still in an earlier pass are
 * left alone (neither scheduled nor preempted), and a pass takes at most `maxSeqs` requests, so
 * that the running ones are spread over the passes in flight.
 */
export interface ScheduleLimits {
  busy: ReadonlySet<Request>;
  maxSeqs: number;
}

/** What sampling produced for one request: its new tokens and how many of its drafts were rejected. */
export interface SampledTokens {
  req: Request;
  tokens: number[];
  logprobs?: TokenLogprobs[];
  numRejectedDrafts: number;
}

/** The tokens a request took in a step, and the token-level stop that ended it, if any. */
export interface RequestUpdate {
  req: Request;
  tokens: number[];
  logprobs?: TokenLogprobs[];
  stop: TokenStop | null;
}

export abstract class Scheduler {
  /** Prompt tokens of the requests that have produced their first token, since start-up. */
  numPromptTokensServed = 0;
  private readonly eos: Set<number>;

  protected constructor(
    protected readonly config: SchedulerConfig,
    protected readonly kv: KVCacheManager,
    eosTokenIds: readonly number[],
  ) {
    this.eos = new Set(eosTokenIds);
  }

  abstract readonly numWaiting: number;
  abstract readonly numRunning: number;
  /** Preemptions since start-up. */
  abstract readonly numPreemptions: number;
  abstract add(req: Request): void;
  abstract schedule(limits?: ScheduleLimits): SchedulerOutput;
  /** Takes a finished or aborted request out of the queues. */
  protected abstract dequeue(req: Request): void;

  /**
   * After the step: every scheduled request has computed its tokens; the sampled ones take their new
   * tokens, up to the first that ends them (EOS, a stop token, max tokens, the end of the context).
   */
  update(plan: SchedulerOutput, sampled: readonly SampledTokens[]): RequestUpdate[] {
    for (const { req, numNewTokens } of plan.scheduled) req.numComputedTokens += numNewTokens;
    const now = epochMs();
    return sampled.map(({ req, tokens, logprobs, numRejectedDrafts }) => {
      // Rejected drafts' K/V stay in their slots, outside numComputedTokens, and are overwritten.
      req.numComputedTokens -= numRejectedDrafts;
      req.draft.numComputed = Math.min(req.draft.numComputed, req.numComputedTokens);
      if (req.timeline.firstToken === null) {
        req.timeline.firstToken = now;
        this.numPromptTokensServed += req.numPromptTokens;
      }
      let taken = 0;
      let stop: TokenStop | null = null;
      for (const token of tokens) {
        req.timeline.tokens.push(now);
        req.appendOutput(token);
        taken++;
        stop = checkStop(req, token, this.eos);
        if (stop) break;
      }
      if (stop) this.finish(req, stop.reason, stop.stopReason);
      else if (this.config.recompute) req.numComputedTokens = 0;
      const lp = logprobs?.slice(0, taken);
      return { req, tokens: tokens.slice(0, taken), ...(lp && lp.length > 0 ? { logprobs: lp } : {}), stop };
    });
  }

  /** Ends an embedding request whose prompt has been computed (its output is the pooled vector). */
  finishPooled(req: Request): Request {
    req.timeline.firstToken = epochMs();
    this.numPromptTokensServed += req.numPromptTokens;
    this.finish(req, 'stop', null);
    return req;
  }

  /**
   * Ends a request: out of the queues, its blocks back to the pool. A request the token checks already
   * ended only takes the new reason (a stop string found in its last step's text outranks them).
   */
  finish(req: Request, reason: RequestFinishReason, stopReason: string | number | null): void {
    req.finishReason = reason;
    req.stopReason = stopReason;
    if (req.status === 'finished') return;
    req.status = 'finished';
    req.timeline.finished = epochMs();
    this.dequeue(req);
    this.kv.free(req);
  }

  /**
   * Grows the request's blocks for `n` new tokens, plus the lookahead when this step reaches the
   * request's end (it will sample, and drafts may follow); without room for the lookahead it still
   * runs, with no drafts next step.
   */
  protected allocate(req: Request, n: number, start: number, prefix?: CachedPrefix): boolean {
    const look = this.config.numLookaheadTokens;
    if (look > 0 && start + n >= req.numTokens && this.kv.allocateSlots(req, n, prefix, look)) return true;
    return this.kv.allocateSlots(req, n, prefix);
  }

  /** Takes a running request's blocks back; it waits to be recomputed from its first token. */
  protected release(req: Request): void {
    this.kv.free(req);
    req.numComputedTokens = 0;
    clearDrafts(req.draft);
    req.status = 'preempted';
    req.numPreemptions++;
  }
}
