// The passes in flight (vLLM's batch queue). With one pass at a time, a step schedules, runs and
// returns its pass. When the model's passes overlap (pipeline stages), a step first submits passes
// until one per stage is in flight or nothing else can run, each over requests not already in one,
// and then waits for the oldest: while its last stage finishes, the first stage is running the next.

import type { Request } from '../request.js';
import type { Scheduler, SchedulerOutput } from '../scheduler/scheduler.js';
import { StaticScheduler } from '../scheduler/static-scheduler.js';
import { UsageError } from '../../util/errors.js';
import type { ModelRunner, ModelRunnerOutput, SubmittedRun } from './model-runner.js';

export interface FinishedPass {
  plan: SchedulerOutput;
  out: ModelRunnerOutput;
}

export class BatchQueue {
  private readonly queue: { plan: SchedulerOutput; run: SubmittedRun }[] = [];
  private readonly busy = new Set<Request>();
  /** Tokens of the last pass returned (0 when none ran). */
  numBatchedTokens = 0;

  constructor(
    private readonly runner: ModelRunner,
    private readonly scheduler: Scheduler,
    speculative: boolean,
  ) {
    // Drafts are proposed from a request's newest token, and a static batch runs all its requests at once.
    if (runner.maxInFlight > 1 && (speculative || scheduler instanceof StaticScheduler)) {
      throw new UsageError('pipeline parallelism runs with the continuous scheduler and without speculative decoding');
    }
  }

  /** Whether the request is in a pass not yet collected (its blocks and tokens must stay as they are). */
  inFlight(req: Request): boolean {
    return this.busy.has(req);
  }

  /** The next finished pass, or null when nothing could run. */
  next(): FinishedPass | null {
    const pass = this.advance();
    this.numBatchedTokens = pass ? pass.plan.scheduled.reduce((n, s) => n + s.numNewTokens, 0) : 0;
    return pass;
  }

  private advance(): FinishedPass | null {
    const depth = this.runner.maxInFlight;
    if (depth === 1) {
      const plan = this.scheduler.schedule();
      return plan.scheduled.length === 0 ? null : { plan, out: this.runner.run(plan) };
    }
    while (this.queue.length < depth) {
      // Spread what can run over the passes in flight (a single sequence still gets its own pass).
      const maxSeqs = Math.max(1, Math.ceil((this.scheduler.numRunning + this.scheduler.numWaiting) / depth));
      const plan = this.scheduler.schedule({ busy: this.busy, maxSeqs });
      if (plan.scheduled.length === 0) break;
      for (const s of plan.scheduled) this.busy.add(s.req);
      this.queue.push({ plan, run: this.runner.submit(plan) });
    }
    const head = this.queue.shift();
    if (!head) return null;
    for (const s of head.plan.scheduled) this.busy.delete(s.req);
    return { plan: head.plan, out: this.runner.collect(head.run) };
  }
}
