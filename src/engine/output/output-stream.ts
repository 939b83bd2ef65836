// One request's outputs as the async engine hands them to its consumer: an async iterable fed by
// the worker's messages, ending at the last sample's finish or with the request's error.

import type { RequestOutput } from './output-processor.js';

export interface SampleOutput extends RequestOutput {
  /** Which of the n samples this output belongs to. */
  index: number;
  /** The prompt's token ids, on each sample's first output. */
  promptTokenIds?: number[];
}

/** One request's outputs, in arrival order, for one consumer. */
export class OutputStream implements AsyncIterable<SampleOutput> {
  private readonly queue: SampleOutput[] = [];
  private waiter: { resolve: (r: IteratorResult<SampleOutput>) => void; reject: (e: Error) => void } | null = null;
  private error: Error | null = null;
  private unfinished: number;
  private readonly promptIds = new Map<number, number[]>();
  done = false;

  constructor(
    readonly ids: string[],
    private readonly onEarlyExit: () => void,
  ) {
    this.unfinished = ids.length;
  }

  admitted(index: number, promptTokenIds: number[]): void {
    this.promptIds.set(index, promptTokenIds);
  }

  push(out: SampleOutput): void {
    const ids = this.promptIds.get(out.index);
    if (ids) {
      out.promptTokenIds = ids;
      this.promptIds.delete(out.index);
    }
    if (out.finishReason) this.unfinished--;
    this.queue.push(out);
    this.flush();
  }

  fail(error: Error): void {
    this.error ??= error;
    this.done = true;
    this.flush();
  }

  get finished(): boolean {
    return this.unfinished === 0;
  }

  private flush(): void {
    if (!this.waiter) return;
    const w = this.waiter;
    if (this.queue.length > 0) {
      this.waiter = null;
      w.resolve({ value: this.queue.shift()!, done: false });
    } else if (this.error) {
      this.waiter = null;
      w.reject(this.error);
    } else if (this.finished) {
      this.waiter = null;
      w.resolve({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SampleOutput> {
    return {
      next: () => new Promise((resolve, reject) => {
        this.waiter = { resolve, reject };
        this.flush();
      }),
      return: async () => {
        if (!this.finished && !this.error) this.onEarlyExit();
        this.done = true;
        return { value: undefined, done: true };
      },
    };
  }
}
