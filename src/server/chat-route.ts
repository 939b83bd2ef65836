// POST /v1/chat/completions: messages rendered with the model's chat template, then generated like a
// completion; the stream opens each choice with the assistant role and closes it with finish_reason.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ChatMessage } from '../model/tokenizer/chat-template.js';
import { chatPromptIds } from '../model/tokenizer/chat-prompt.js';
import { UsageError } from '../util/errors.js';
import { chatLogprobs, type ChatTokenLogprob } from './logprobs-format.js';
import { startGeneration, type ChoiceOutput } from './generation.js';
import { invalidRequest } from './openai-error.js';
import { chatRequestSchema, type ChatRequest, type ChatRequestMessage } from './openai-schemas.js';
import { toSamplingParams } from './sampling-request.js';
import { namingField, structuredOutputsOf } from './structured-request.js';
import type { ServerContext } from './server-context.js';
import { SseStream } from './sse.js';
import { parseBody, type RouteHelpers } from './route-helpers.js';

export function registerChat(app: FastifyInstance, helpers: RouteHelpers): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const body = parseBody(chatRequestSchema, request.body);
    const ctx = helpers.context(body.model);
    const promptIds = renderChat(ctx, body.messages, body.add_generation_prompt ?? true, chatTemplateKwargs(body));
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? null;
    const field = body.max_completion_tokens ? 'max_completion_tokens' : 'max_tokens';
    const logprobs = body.logprobs ? (body.top_logprobs ?? 0) : null;
    if (!body.logprobs && body.top_logprobs) throw invalidRequest('top_logprobs needs logprobs: true', 'top_logprobs');
    const structured = structuredOutputsOf(body);
    const params = toSamplingParams(body, promptIds.length, maxTokens, logprobs, ctx.limits, field, structured?.spec);
    const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
    const created = Math.floor(Date.now() / 1000);
    const outputs = namingField(startGeneration(ctx, reply, id, [{ promptIds, params }], body.priority ?? 0), structured?.field);
    const usage = (completion: number) => ({ prompt_tokens: promptIds.length, completion_tokens: completion, total_tokens: promptIds.length + completion });

    if (body.stream) return stream(reply, outputs, { id, created, model: ctx.servedModelName }, body, ctx, usage);

    const choices = Array.from({ length: params.n }, (_, i) => ({
      index: i,
      message: { role: 'assistant', content: '' },
      logprobs: null as { content: ChatTokenLogprob[] } | null,
      finish_reason: null as string | null,
      stop_reason: null as string | number | null,
    }));
    let completionTokens = 0;
    for await (const o of outputs) {
      const c = choices[o.choice]!;
      c.message.content += o.text;
      if (o.logprobs) {
        const lp = chatLogprobs(ctx.tokenizer, o.logprobs);
        c.logprobs = { content: [...(c.logprobs?.content ?? []), ...lp.content] };
      }
      completionTokens += o.tokenIds.length;
      if (o.finishReason) {
        c.finish_reason = o.finishReason;
        c.stop_reason = o.stopReason;
      }
    }
    return { id, object: 'chat.completion', created, model: ctx.servedModelName, choices, usage: usage(completionTokens) };
  });
}

async function stream(
  reply: FastifyReply, outputs: AsyncGenerator<ChoiceOutput>, base: { id: string; created: number; model: string }, body: ChatRequest,
  ctx: ServerContext, usage: (completion: number) => object,
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
    const logprobs = o.logprobs ? chatLogprobs(ctx.tokenizer, o.logprobs) : null;
    if (o.text !== '' || logprobs) sse.send(chunk([{ index: o.choice, delta: { content: o.text }, logprobs, finish_reason: null }]));
    if (o.finishReason) sse.send(chunk([{ index: o.choice, delta: {}, logprobs: null, finish_reason: o.finishReason, stop_reason: o.stopReason }]));
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

/** The template variables of a request: its chat_template_kwargs, and its tools as `tools`. */
export function chatTemplateKwargs(body: ChatRequest): Record<string, unknown> | undefined {
  if (!body.tools) return body.chat_template_kwargs ?? undefined;
  return { ...body.chat_template_kwargs, tools: body.tools };
}

/**
 * The messages as the model's chat template renders them, tokenized without extra special tokens; for a
 * model without a template, their text to continue.
 */
export function renderChat(ctx: ServerContext, messages: ChatRequestMessage[], addGenerationPrompt: boolean, kwargs?: Record<string, unknown>): number[] {
  const tok = ctx.tokenizer;
  if (!tok) throw invalidRequest('this model has no tokenizer, so it cannot take chat messages; use /v1/completions with token ids', 'messages');
  const plain: ChatMessage[] = messages.map((m) => ({
    ...m,
    content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''),
  }));
  try {
    return chatPromptIds(tok, plain, { addGenerationPrompt, ...(kwargs ? { kwargs } : {}) });
  } catch (e) {
    if (e instanceof UsageError) throw invalidRequest(e.message, 'messages');
    throw e;
  }
}
