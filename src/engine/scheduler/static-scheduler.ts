// The naive baseline continuous batching is measured against, as a plain generate() loop over
// padded batches works: take up to max-num-seqs waiting requests, left-pad their prompts to the
// longest, prefill them together, then decode all of them until the last one finishes. Nobody joins
// a batch in flight, and a finished member keeps costing a padding row every step. Each member's
// blocks for prompt plus max tokens are reserved up front, so a static batch never preempts (and a
// batch that does not fit is simply smaller). Requests are served in arrival order.

import type { KVCacheManager } from '../kv-cache/kv-cache-manager.js';
import { epochMs, type Request } from '../request.js';
import { RequestQueue } from './request-queue.js';
import { Scheduler, type ScheduledRequest, type SchedulerConfig, type SchedulerOutput } from './scheduler.js';

export class StaticScheduler extends Scheduler {
  private readonly waiting = new RequestQueue('fcfs');
  private batch: Request[] = [];
  readonly numPreemptions = 0;

  constructor(config: SchedulerConfig, kv: KVCacheManager, eosTokenIds: readonly number[]) {
    super(config, kv, eosTokenIds);
  }

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.batch.filter((r) => r.status === 'running').length;
  }

  add(req: Request): void {
    this.waiting.insert(req);
  }

  protected dequeue(req: Request): void {
    // Members stay in the batch (as padding) until it ends.
    if (!this.batch.includes(req)) this.waiting.remove(req);
  }

  schedule(): SchedulerOutput {
    if (this.batch.every((r) => r.isFinished)) return this.startBatch();
    const scheduled: ScheduledRequest[] = [];
    let paddingRows = 0;
    for (const req of this.batch) {
      if (req.isFinished) paddingRows++;
      else scheduled.push({ req, numNewTokens: req.numPendingTokens });
    }
    return { scheduled, preempted: [], paddingRows };
  }

  private startBatch(): SchedulerOutput {
    this.batch = [];
    while (this.batch.length < this.config.maxNumSeqs && this.waiting.length > 0) {
      const req = this.waiting.peek()!;
      // Prompt plus every token it may generate, reserved up front.
      if (!this.kv.allocateSlots(req, req.numTokens + req.maxOutputTokens)) break;
      this.waiting.shift();
      req.status = 'running';
      req.timeline.firstScheduled = epochMs();
      this.batch.push(req);
    }
    const longest = this.batch.reduce((m, r) => Math.max(m, r.numTokens), 0);
    return {
      scheduled: this.batch.map((req) => ({ req, numNewTokens: req.numTokens })),
      preempted: [],
      paddingRows: this.batch.reduce((n, r) => n + longest - r.numTokens, 0),
    };
  }
}
