// One request's state inside the engine core: its tokens, where it is in its life
// (waiting -> running <-> preempted -> finished), its KV blocks, and the per-request sampling, stopping
// and detokenizing state that must survive preemption.

import { newDraftPace, type DraftPace } from './spec-decode/draft-pacing.js';
import type { IncrementalDetokenizer } from '../model/tokenizer/tokenizer.js';
import type { Rng } from './sampling/rng.js';
import type { SamplingParams } from './sampling/sampling-params.js';
import type { StopChecker } from './stop-checker.js';

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
  /** Speculative decoding: tokens proposed to follow tokenIds, verified in the next step. */
  specTokenIds: number[] = [];
  /** The draft distribution each of specTokenIds was drawn from (sampled requests, draft models); empty = one-hot. */
  specDraftProbs: Float64Array[] = [];
  /** Speculative decoding with a draft model: tokens whose K/V are in the draft's cache. */
  numDraftComputed = 0;
  /** Speculative decoding's adaptive draft length and back-off (see spec-decode/draft-pacing.ts). */
  readonly spec: DraftPace = newDraftPace();
  /** Prompt tokens found in the prefix cache when the request was first scheduled. */
  numCachedTokens = 0;
  /** Physical block ids, in logical order. */
  blockTable: number[] = [];
  /** Hashes of the request's full blocks, extended as tokens arrive (prefix caching). */
  readonly blockHashes: string[] = [];
  numPreemptions = 0;
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
    readonly sampling: { rng: Rng; stop: StopChecker; detokenizer: IncrementalDetokenizer | null },
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
}
