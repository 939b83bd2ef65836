// POST /v1/chat/completions: messages rendered with the model's chat template, then generated like a
// completion. Each choice's text is split into reasoning, content and tool calls as it streams; the
// stream opens each choice with the assistant role and closes it with finish_reason.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { chatLogprobs, promptLogprobsList, type ChatTokenLogprob } from './logprobs-format.js';
import type { ChoiceOutput } from './generation.js';
import { chatRequestSchema, type ChatRequest } from './openai-schemas.js';
import type { ServerContext } from './server-context.js';
import { SseStream } from './sse.js';
import { parseBody, type RouteHelpers } from './route-helpers.js';
import type { ChoiceDelta, ReplyParser } from './choice-parser.js';
import { finishReason, startChat, toolCallsOut, type ToolCallOut } from './chat-generation.js';

export function registerChat(app: FastifyInstance, helpers: RouteHelpers): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const body = parseBody(chatRequestSchema, request.body);
    const ctx = helpers.context(body.model);
    const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
    const created = Math.floor(Date.now() / 1000);
    const { promptIds, outputs, parsers } = startChat(ctx, reply, body, id);
    const usage = (completion: number) => ({ prompt_tokens: promptIds.length, completion_tokens: completion, total_tokens: promptIds.length + completion });

    if (body.stream) return stream(reply, outputs, { id, created, model: ctx.servedModelName }, body, ctx, usage, parsers);

    const choices = parsers.map((_, i) => ({
      index: i,
      message: { role: 'assistant', content: '' as string | null, reasoning_content: undefined as string | undefined, tool_calls: undefined as ToolCallOut[] | undefined },
      logprobs: null as { content: ChatTokenLogprob[] } | null,
      finish_reason: null as string | null,
      stop_reason: null as string | number | null,
    }));
    const add = (i: number, deltas: ChoiceDelta[]) => {
      const m = choices[i]!.message;
      for (const d of deltas) {
        if (d.content) m.content += d.content;
        if (d.reasoning_content) m.reasoning_content = (m.reasoning_content ?? '') + d.reasoning_content;
      }
    };
    let completionTokens = 0;
    // vLLM: the rendered prompt's logprobs, once for the whole response.
    let promptLogprobs: ReturnType<typeof promptLogprobsList> | undefined;
    let kvTransferParams: Record<string, unknown> | undefined;
    for await (const o of outputs) {
      const c = choices[o.choice]!;
      kvTransferParams ??= o.kvTransferParams;
      if (body.prompt_logprobs != null && o.promptTokenIds && o.choice === 0) promptLogprobs = promptLogprobsList(ctx.tokenizer, o.promptLogprobs ?? [], body.prompt_logprobs);
      add(o.choice, parsers[o.choice]!.push(o.text));
      if (o.logprobs) {
        const lp = chatLogprobs(ctx.tokenizer, o.logprobs);
        c.logprobs = { content: [...(c.logprobs?.content ?? []), ...lp.content] };
      }
      completionTokens += o.tokenIds.length;
      if (o.finishReason) {
        const done = parsers[o.choice]!.finish();
        add(o.choice, done.deltas);
        if (done.calls) {
          c.message.tool_calls = toolCallsOut(done.calls);
          if (c.message.content === '') c.message.content = null;
        }
        c.finish_reason = finishReason(o.finishReason, done.calls);
        c.stop_reason = o.stopReason;
      }
    }
    return { id, object: 'chat.completion', created, model: ctx.servedModelName, choices, usage: usage(completionTokens), ...(promptLogprobs ? { prompt_logprobs: promptLogprobs } : {}), ...(kvTransferParams ? { kv_transfer_params: kvTransferParams } : {}) };
  });
}

async function stream(
  reply: FastifyReply, outputs: AsyncGenerator<ChoiceOutput>, base: { id: string; created: number; model: string }, body: ChatRequest,
  ctx: ServerContext, usage: (completion: number) => object, parsers: ReplyParser[],
): Promise<void> {
  const first = await outputs.next();
  const sse = new SseStream(reply);
  const includeUsage = body.stream_options?.include_usage === true;
  const chunk = (choices: object[]) => ({ ...base, object: 'chat.completion.chunk', choices, ...(includeUsage ? { usage: null } : {}) });
  const opened = new Set<number>();
  let completionTokens = 0;
  const send = (o: ChoiceOutput) => {
    if (!opened.has(o.choice)) {
      opened.add(o.choice);
      sse.send(chunk([{ index: o.choice, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
    }
    completionTokens += o.tokenIds.length;
    const parser = parsers[o.choice]!;
    const deltas = parser.push(o.text);
    const logprobs = o.logprobs ? chatLogprobs(ctx.tokenizer, o.logprobs) : null;
    // Logprobs travel with the step's first delta (or alone when the text is held back).
    if (deltas.length === 0 && logprobs) deltas.push({ content: '' });
    deltas.forEach((d, k) => sse.send(chunk([{ index: o.choice, delta: d, logprobs: k === 0 ? logprobs : null, finish_reason: null }])));
    if (!o.finishReason) return;
    const done = parser.finish();
    for (const d of done.deltas) sse.send(chunk([{ index: o.choice, delta: d, logprobs: null, finish_reason: null }]));
    if (done.calls) {
      const calls = toolCallsOut(done.calls).map((c, index) => ({ index, ...c }));
      sse.send(chunk([{ index: o.choice, delta: { tool_calls: calls }, logprobs: null, finish_reason: null }]));
    }
    sse.send(chunk([{ index: o.choice, delta: {}, logprobs: null, finish_reason: finishReason(o.finishReason, done.calls), stop_reason: o.stopReason }]));
  };
  try {
    if (!first.done) send(first.value);
    for await (const o of outputs) send(o);
    if (includeUsage) sse.send({ ...base, object: 'chat.completion.chunk', choices: [], usage: usage(completionTokens) });
  } catch (e) {
    sse.send({ error: { message: (e as Error).message, type: 'internal_error', param: null, code: null } });
  }
  sse.end();
}
