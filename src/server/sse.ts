// Server-Sent Events as OpenAI streams them: `data: {json}` events, ending with `data: [DONE]`.

import type { FastifyReply } from 'fastify';

export class SseStream {
  private readonly raw: FastifyReply['raw'];

  constructor(reply: FastifyReply, headers: Record<string, string> = {}) {
    reply.hijack();
    this.raw = reply.raw;
    this.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
  }

  get closed(): boolean {
    return this.raw.destroyed || this.raw.writableEnded;
  }

  send(data: unknown): void {
    if (!this.closed) this.raw.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  end(): void {
    if (this.closed) return;
    this.raw.write('data: [DONE]\n\n');
    this.raw.end();
  }
}

/** Interleaves several async iterables, yielding each item as soon as its source has it. */
export async function* mergeStreams<T>(sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  const pull = (i: number) => pending.set(i, iterators[i]!.next().then((r) => ({ i, r })));
  iterators.forEach((_, i) => pull(i));
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) pending.delete(i);
      else {
        pull(i);
        yield r.value;
      }
    }
  } finally {
    // Leaving early (an error, a disconnect) ends the sources that are still running.
    for (const [i] of pending) await iterators[i]!.return?.();
  }
}
