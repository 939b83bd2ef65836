// Iteration-level scheduling (vLLM v1's shape): every step first gives each running request its next
// tokens (one decode token, or the next chunk of a long prompt), then admits waiting requests while
// the token budget, the sequence cap and the free blocks allow. A prompt larger than what is left of
// the budget is split across steps (chunked prefill), so running decodes never stall behind it.
// When a running request needs a block and none is free, the newest (or lowest-priority) running
// request is preempted: its blocks go back to the pool and it waits to be recomputed. A decoding
// request's draft tokens (speculative decoding) ride along with its next token, as far as the budget
// allows.

import type { KVCacheManager } from '../kv-cache/kv-cache-manager.js';
import { epochMs, type Request } from '../request.js';
import { RequestQueue, comesBefore } from './request-queue.js';
import { Scheduler, type ScheduleLimits, type SchedulerConfig, type SchedulerOutput } from './scheduler.js';

export class ContinuousScheduler extends Scheduler {
  private readonly waiting: RequestQueue;
  private readonly running: Request[] = [];
  numPreemptions = 0;

  constructor(config: SchedulerConfig, kv: KVCacheManager, eosTokenIds: readonly number[]) {
    super(config, kv, eosTokenIds);
    this.waiting = new RequestQueue(config.policy);
  }

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.running.length;
  }

  add(req: Request): void {
    this.waiting.insert(req);
  }

  protected dequeue(req: Request): void {
    const i = this.running.indexOf(req);
    if (i >= 0) this.running.splice(i, 1);
    else this.waiting.remove(req);
  }

  schedule(limits?: ScheduleLimits): SchedulerOutput {
    let budget = this.config.maxNumBatchedTokens;
    const busy = limits?.busy;
    const maxSeqs = limits?.maxSeqs ?? Infinity;
    const scheduled = new Map<Request, number>();
    const drafts = new Map<Request, number[]>();
    const preempted: Request[] = [];

    for (const req of [...this.running]) {
      if (budget === 0) break;
      if (scheduled.size >= maxSeqs) break;
      if (req.status !== 'running' || busy?.has(req)) continue; // preempted earlier in this loop, or in a pass in flight
      const n = Math.min(req.numPendingTokens + req.draft.tokenIds.length, budget);
      for (;;) {
        if (this.allocate(req, n, req.numComputedTokens)) {
          scheduled.set(req, n);
          if (n > req.numPendingTokens) drafts.set(req, req.draft.tokenIds.slice(0, n - req.numPendingTokens));
          budget -= n;
          break;
        }
        const victim = this.pickVictim(busy);
        const given = scheduled.get(victim);
        if (given !== undefined) {
          budget += given;
          scheduled.delete(victim);
          drafts.delete(victim);
        }
        this.preempt(victim);
        preempted.push(victim);
        if (victim === req) break;
      }
    }

    // Nothing new joins a step that had to preempt: the pool is already short.
    while (preempted.length === 0 && budget > 0 && scheduled.size < maxSeqs && this.running.length < this.config.maxNumSeqs && this.waiting.length > 0) {
      const req = this.waiting.peek()!;
      const prefix = this.kv.findCachedPrefix(req);
      const n = Math.min(req.numTokens - prefix.numTokens, budget);
      if (!this.allocate(req, n, prefix.numTokens, prefix)) break;
      this.waiting.shift();
      this.kv.recordLookup(req.numTokens, prefix.numTokens);
      if (req.timeline.firstScheduled === null) {
        req.timeline.firstScheduled = epochMs();
        req.numCachedTokens = prefix.numTokens;
      }
      req.numComputedTokens = prefix.numTokens;
      req.status = 'running';
      this.running.push(req);
      scheduled.set(req, n);
      budget -= n;
    }

    return {
      scheduled: [...scheduled].map(([req, numNewTokens]) => ({ req, numNewTokens, ...(drafts.has(req) ? { draftTokens: drafts.get(req)! } : {}) })),
      preempted,
      paddingRows: 0,
    };
  }

  // The request being scheduled is never busy, so there is always a candidate.
  private pickVictim(busy: ReadonlySet<Request> | undefined): Request {
    const candidates = busy ? this.running.filter((r) => !busy.has(r)) : this.running;
    let victim = candidates[candidates.length - 1]!;
    if (this.config.policy === 'priority') for (const r of candidates) if (comesBefore('priority', victim, r)) victim = r;
    return victim;
  }

  private preempt(req: Request): void {
    this.release(req);
    this.numPreemptions++;
    this.running.splice(this.running.indexOf(req), 1);
    this.waiting.insert(req);
  }
}
