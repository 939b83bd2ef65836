// What a scheduler decides each step, and the knobs it decides by. One step is one forward pass over
// the tokens of `scheduled`; the engine core runs it and reports back which requests finished.

import type { Request } from '../request.js';

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

export interface Scheduler {
  readonly numWaiting: number;
  readonly numRunning: number;
  /** Preemptions since start-up. */
  readonly numPreemptions: number;
  add(req: Request): void;
  /** Takes a finished or aborted request out of the queues (its blocks are the caller's to free). */
  remove(req: Request): void;
  schedule(): SchedulerOutput;
}
