// Waiting requests in the order the policy serves them: arrival order (fcfs), or priority then
// arrival (priority). A preempted request goes back in at its old place, ahead of later arrivals.

import type { Request } from '../request.js';
import type { SchedulingPolicy } from './scheduler.js';

export function comesBefore(policy: SchedulingPolicy, a: Request, b: Request): boolean {
  if (policy === 'priority' && a.priority !== b.priority) return a.priority < b.priority;
  return a.arrivalIndex < b.arrivalIndex;
}

export class RequestQueue {
  private readonly items: Request[] = [];

  constructor(private readonly policy: SchedulingPolicy) {}

  get length(): number {
    return this.items.length;
  }

  peek(): Request | undefined {
    return this.items[0];
  }

  shift(): Request | undefined {
    return this.items.shift();
  }

  insert(req: Request): void {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (comesBefore(this.policy, this.items[mid]!, req)) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, req);
  }

  remove(req: Request): boolean {
    const i = this.items.indexOf(req);
    if (i >= 0) this.items.splice(i, 1);
    return i >= 0;
  }
}
