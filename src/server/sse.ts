// Server-Sent Events as OpenAI streams them: `data: {json}` events (named ones for the Responses API),
// ending with `data: [DONE]` where the API has one.

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

  send(data: unknown, event?: string): void {
    if (!this.closed) this.raw.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
  }

  end(done = true): void {
    if (this.closed) return;
    if (done) this.raw.write('data: [DONE]\n\n');
    this.raw.end();
  }
}
