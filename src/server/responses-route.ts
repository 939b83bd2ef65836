// POST /v1/responses: the Responses API over the chat path. The reply becomes output items (reasoning,
// a message with output_text, function calls); streamed, it is the API's event sequence, from
// response.created through the items' added/delta/done events to response.completed.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { startChat, toolCallsOut, type ChatGeneration } from './chat-generation.js';
import type { ChoiceDelta } from './choice-parser.js';
import { chatRequestOf, responsesRequestSchema, type ResponsesRequest } from './responses-request.js';
import { parseBody, type RouteHelpers } from './route-helpers.js';
import { SseStream } from './sse.js';

const newId = (prefix: string) => `${prefix}_${randomUUID().replaceAll('-', '')}`;

type Item = Record<string, unknown> & { id: string; type: string };

/** The response object around its output items. */
function responseObject(id: string, created: number, model: string, r: ResponsesRequest, output: Item[], status: string, usage: object | null, incomplete: string | null) {
  return {
    id, object: 'response', created_at: created, status, model, output, error: null,
    incomplete_details: incomplete ? { reason: incomplete } : null,
    instructions: r.instructions ?? null, max_output_tokens: r.max_output_tokens ?? null, metadata: r.metadata ?? {},
    parallel_tool_calls: r.parallel_tool_calls ?? true, previous_response_id: null, store: false,
    temperature: r.temperature ?? null, top_p: r.top_p ?? null, tool_choice: r.tool_choice ?? 'auto', tools: r.tools ?? [],
    text: { format: r.text?.format ?? { type: 'text' } }, usage,
  };
}

/** Builds the output items from a choice's deltas, telling `on` each event as the API streams it. */
class OutputItems {
  readonly items: Item[] = [];
  private reasoning: Item | null = null;
  private message: Item | null = null;

  constructor(private readonly on: (type: string, payload: Record<string, unknown>) => void) {}

  add(deltas: ChoiceDelta[]): void {
    for (const d of deltas) {
      if (d.reasoning_content) {
        if (!this.reasoning) this.reasoning = this.open({ id: newId('rs'), type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: '' }] });
        const part = (this.reasoning['content'] as { text: string }[])[0]!;
        part.text += d.reasoning_content;
        this.on('response.reasoning_text.delta', { item_id: this.reasoning.id, output_index: this.index(this.reasoning), content_index: 0, delta: d.reasoning_content });
      }
      if (d.content) {
        this.closeReasoning();
        if (!this.message) {
          this.message = this.open({ id: newId('msg'), type: 'message', status: 'in_progress', role: 'assistant', content: [] });
          const part = { type: 'output_text', text: '', annotations: [] };
          (this.message['content'] as object[]).push(part);
          this.on('response.content_part.added', { item_id: this.message.id, output_index: this.index(this.message), content_index: 0, part: { ...part } });
        }
        (this.message['content'] as { text: string }[])[0]!.text += d.content;
        this.on('response.output_text.delta', { item_id: this.message.id, output_index: this.index(this.message), content_index: 0, delta: d.content });
      }
    }
  }

  finish(calls: { name: string; arguments: string }[] | null): void {
    this.closeReasoning();
    if (this.message) {
      const m = this.message;
      const part = (m['content'] as { text: string }[])[0]!;
      this.on('response.output_text.done', { item_id: m.id, output_index: this.index(m), content_index: 0, text: part.text });
      this.on('response.content_part.done', { item_id: m.id, output_index: this.index(m), content_index: 0, part });
      m['status'] = 'completed';
      this.on('response.output_item.done', { output_index: this.index(m), item: m });
    }
    for (const c of calls ? toolCallsOut(calls) : []) {
      const item = this.open({ id: newId('fc'), type: 'function_call', status: 'in_progress', call_id: c.id, name: c.function.name, arguments: '' });
      item['arguments'] = c.function.arguments;
      this.on('response.function_call_arguments.delta', { item_id: item.id, output_index: this.index(item), delta: c.function.arguments });
      this.on('response.function_call_arguments.done', { item_id: item.id, output_index: this.index(item), arguments: c.function.arguments });
      item['status'] = 'completed';
      this.on('response.output_item.done', { output_index: this.index(item), item });
    }
  }

  private open(item: Item): Item {
    this.items.push(item);
    this.on('response.output_item.added', { output_index: this.items.length - 1, item: structuredClone(item) });
    return item;
  }

  private closeReasoning(): void {
    if (!this.reasoning) return;
    const r = this.reasoning;
    this.on('response.reasoning_text.done', { item_id: r.id, output_index: this.index(r), content_index: 0, text: (r['content'] as { text: string }[])[0]!.text });
    this.on('response.output_item.done', { output_index: this.index(r), item: r });
    this.reasoning = null;
  }

  private index(item: Item): number {
    return this.items.indexOf(item);
  }
}

export function registerResponses(app: FastifyInstance, helpers: RouteHelpers): void {
  app.post('/v1/responses', async (request, reply) => {
    const r = parseBody(responsesRequestSchema, request.body);
    const ctx = helpers.context(r.model);
    const id = newId('resp');
    const created = Math.floor(Date.now() / 1000);
    const gen = startChat(ctx, reply, chatRequestOf(r), id);
    const base = (items: Item[], status: string, usage: object | null, incomplete: string | null) =>
      responseObject(id, created, ctx.servedModelName, r, items, status, usage, incomplete);
    if (r.stream) return stream(reply, gen, base);
    const out = new OutputItems(() => {});
    const end = await run(gen, out);
    return base(out.items, end.incomplete ? 'incomplete' : 'completed', end.usage, end.incomplete);
  });
}

/** Runs the generation into the items; the usage and whether max_output_tokens cut it short. */
async function run(gen: ChatGeneration, out: OutputItems): Promise<{ usage: object; incomplete: string | null }> {
  let tokens = 0;
  let incomplete: string | null = null;
  const parser = gen.parsers[0]!;
  for await (const o of gen.outputs) {
    tokens += o.tokenIds.length;
    out.add(parser.push(o.text));
    if (!o.finishReason) continue;
    const done = parser.finish();
    out.add(done.deltas);
    out.finish(done.calls);
    if (o.finishReason === 'length') incomplete = 'max_output_tokens';
  }
  const usage = {
    input_tokens: gen.promptIds.length, input_tokens_details: { cached_tokens: 0 },
    output_tokens: tokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: gen.promptIds.length + tokens,
  };
  return { usage, incomplete };
}

async function stream(reply: FastifyReply, gen: ChatGeneration, base: (items: Item[], status: string, usage: object | null, incomplete: string | null) => object): Promise<void> {
  // Admission errors (a bad schema, an overlong prompt) are still plain 4xx responses.
  const first = await gen.outputs.next();
  const replay = (async function* () {
    if (!first.done) yield first.value;
    yield* gen.outputs;
  })();
  const sse = new SseStream(reply);
  let sequence = 0;
  const send = (type: string, payload: Record<string, unknown>) => sse.send({ type, sequence_number: sequence++, ...payload }, type);
  send('response.created', { response: base([], 'in_progress', null, null) });
  send('response.in_progress', { response: base([], 'in_progress', null, null) });
  const out = new OutputItems(send);
  try {
    const end = await run({ ...gen, outputs: replay }, out);
    const status = end.incomplete ? 'incomplete' : 'completed';
    send(`response.${status}`, { response: base(out.items, status, end.usage, end.incomplete) });
  } catch (e) {
    send('error', { code: 'server_error', message: (e as Error).message, param: null });
  }
  sse.end(false);
}
