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
