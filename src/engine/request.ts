// One request's state inside the engine core: its tokens, where it is in its life
// (waiting -> running <-> preempted -> finished), its KV blocks, its random stream and its
// speculative-decoding state, all of which must survive preemption.

import type { Rng } from '../util/rng.js';
import type { PoolingParams } from './pooling/pooler.js';
import type { TokenLogprobs } from './sampling/sampler.js';
import type { SamplingParams } from './sampling/sampling-params.js';
import { newDraftState, type DraftState } from './spec-decode/draft-state.js';

export type RequestStatus = 'waiting' | 'running' | 'preempted' | 'finished';
export type RequestFinishReason = 'stop' | 'length' | 'abort';

/** Wall-clock milliseconds since the epoch, comparable across worker threads. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** When things happened to a request, in epoch milliseconds (the metrics' raw material). */
export interface RequestTimeline {
  arrival: number;
  firstScheduled: number | null;
  firstToken: number | null;
  /** One entry per generated token. */
  tokens: number[];
  finished: number | null;
}

export class Request {
  status: RequestStatus = 'waiting';
  /** Prompt then output: the tokens whose K/V the sequence needs. */
  readonly tokenIds: number[];
  readonly outputIds: number[] = [];
  /** Tokens whose K/V are in the cache (or will be, after the step being run). */
  numComputedTokens = 0;
  /** Speculative decoding: the drafts to verify next step, their distributions, pacing. */
  readonly draft: DraftState = newDraftState();
  /** Prompt tokens found in the prefix cache when the request was first scheduled. */
  numCachedTokens = 0;
  /** Physical block ids, in logical order. */
  blockTable: number[] = [];
  /** Hashes of the request's full blocks, extended as tokens arrive (prefix caching). */
  readonly blockHashes: string[] = [];
  /** Keys this request's prefix-cache blocks beside their tokens (the model's prefixCacheSalt). */
  cacheSalt = '';
  numPreemptions = 0;
  /** An embedding request's pooling (it ends once its prompt is computed); null for generation. */
  pooling: PoolingParams | null = null;
  /** Its pooled hidden states so far (pooler.ts). */
  pooledSum: Float64Array | null = null;
  /** Prompt logprobs so far (prompt-logprobs.ts), handed out with the first output. */
  promptLogprobs: TokenLogprobs[] | null = null;
  /** Its matcher's slot in the grammar thread, when its output is constrained. */
  grammarSlot: number | null = null;
  finishReason: RequestFinishReason | null = null;
  stopReason: string | number | null = null;
  readonly timeline: RequestTimeline;

  constructor(
    readonly id: string,
    readonly promptIds: readonly number[],
    readonly params: SamplingParams,
    /** Lower runs first under the priority policy (vLLM's convention). */
    readonly priority: number,
    /** Admission order, the tie-breaker of every policy. */
    readonly arrivalIndex: number,
    readonly rng: Rng,
    /** Most tokens it may generate: max_tokens, or less where the context (or the whole cache) ends first. */
    readonly maxOutputTokens: number = params.maxTokens,
    arrival = epochMs(),
  ) {
    this.tokenIds = [...promptIds];
    this.timeline = { arrival, firstScheduled: null, firstToken: null, tokens: [], finished: null };
  }

  get numTokens(): number {
    return this.tokenIds.length;
  }

  get numPromptTokens(): number {
    return this.promptIds.length;
  }

  /** Tokens still to be computed before the next one can be sampled. */
  get numPendingTokens(): number {
    return this.tokenIds.length - this.numComputedTokens;
  }

  get isFinished(): boolean {
    return this.status === 'finished';
  }

  appendOutput(token: number): void {
    this.tokenIds.push(token);
    this.outputIds.push(token);
  }

  /** Drops output tokens past the first `n` (a stop string ended the text before them). */
  truncateOutput(n: number): void {
    const drop = this.outputIds.length - n;
    if (drop <= 0) return;
    this.outputIds.length = n;
    this.tokenIds.length -= drop;
    this.timeline.tokens.length = n;
  }
}
