// The sends a rank has posted and not yet seen complete, counted so that rank 0 can wait for those of
// one pass (its plan, its activations) while a later pass's are still on their way.

import type { NativeCommunicator } from '../../distributed/comm-addon.js';

export class PostedSends {
  private posted = 0;

  constructor(private readonly comm: NativeCommunicator) {}

  /** Posts a send of `x` (which must stay unchanged until it completes). */
  post(x: ArrayBufferView, dst: number, tag: number): void {
    this.comm.isend(x, dst, tag);
    this.posted++;
  }

  /** A mark after every send posted so far. */
  mark(): number {
    return this.posted;
  }

  /** Blocks until every send posted before `mark` (by default: every send) has completed. */
  waitUntil(mark = this.posted): void {
    this.comm.waitSends(this.posted - mark);
  }
}
