// POST /v1/completions: text (or token-id) prompts, one or many, each with n samples; streamed as
// Server-Sent Events or returned whole.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { completionLogprobs, echoLogprobs, promptLogprobsList, type CompletionLogprobs } from './logprobs-format.js';
import { startGeneration, type ChoiceOutput, type PromptRun } from './generation.js';
import { completionRequestSchema, type CompletionRequest } from './openai-schemas.js';
import { toSamplingParams } from './sampling-request.js';
import { namingField, structuredOutputsOf } from './structured-request.js';
import type { ServerContext } from './server-context.js';
import { SseStream } from './sse.js';
import { parseBody, promptInputIds, type RouteHelpers } from './route-helpers.js';

/** OpenAI's default for the legacy completions endpoint. */
const DEFAULT_MAX_TOKENS = 16;

export function registerCompletions(app: FastifyInstance, helpers: RouteHelpers): void {
  app.post('/v1/completions', async (request, reply) => {
    const body = parseBody(completionRequestSchema, request.body);
    const ctx = helpers.context(body.model);
    const prompts = promptInputIds(ctx, body.prompt, 'prompt');
    const structured = structuredOutputsOf(body);
    // Echo with logprobs scores the prompt: its logprobs come from the prompt logprobs.
    const echoLogprobsN = body.echo && body.logprobs != null ? body.logprobs : null;
    const sampling = echoLogprobsN === null ? body : { ...body, prompt_logprobs: Math.max(echoLogprobsN, body.prompt_logprobs ?? 0) };
    const runs: PromptRun[] = prompts.map((ids) => ({
      promptIds: ids,
      params: toSamplingParams(sampling, ids.length, body.max_tokens ?? DEFAULT_MAX_TOKENS, body.logprobs ?? null, ctx.limits, 'max_tokens', structured?.spec),
    }));
    const id = `cmpl-${randomUUID().replaceAll('-', '')}`;
    const created = Math.floor(Date.now() / 1000);
    const outputs = namingField(startGeneration(ctx, reply, id, runs, body.priority ?? 0, body.kv_transfer_params), structured?.field);
    const echo = (o: ChoiceOutput) => (body.echo && ctx.tokenizer ? ctx.tokenizer.decode(runs[o.promptIndex]!.promptIds, { skipSpecialTokens: true }) : '');
    /** On a choice's first output: the echoed prompt's logprobs, and vLLM's prompt_logprobs and prompt_token_ids. */
    const promptParts = (o: ChoiceOutput) => (o.promptTokenIds ? {
      ...(body.return_token_ids ? { prompt_token_ids: o.promptTokenIds } : {}),
      ...(echoLogprobsN !== null ? { echoed: echoLogprobs(ctx.tokenizer, o.promptTokenIds, o.promptLogprobs ?? [], echoLogprobsN) } : {}),
      ...(body.prompt_logprobs != null ? { prompt_logprobs: promptLogprobsList(ctx.tokenizer, o.promptLogprobs ?? [], body.prompt_logprobs) } : {}),
    } : {});
    const base = { id, object: 'text_completion', created, model: ctx.servedModelName };
    const n = runs[0]!.params.n;
    const usage = (completion: number) => {
      const prompt = runs.reduce((s, r) => s + r.promptIds.length, 0);
      return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    };

    if (body.stream) return stream(reply, outputs, base, body, ctx, echo, promptParts, usage);

    const choices = Array.from({ length: runs.length * n }, (_, i) => ({
      index: i, text: '', logprobs: null as CompletionLogprobs | null, finish_reason: null as string | null, stop_reason: null as string | number | null,
      ...(body.prompt_logprobs != null ? { prompt_logprobs: null as unknown } : {}),
      ...(body.return_token_ids ? { prompt_token_ids: [] as number[], token_ids: [] as number[] } : {}),
    }));
    let completionTokens = 0;
    let kvTransferParams: Record<string, unknown> | undefined;
    for await (const o of outputs) {
      const c = choices[o.choice]!;
      kvTransferParams ??= o.kvTransferParams;
      if (c.text === '' && o.promptTokenIds) c.text = echo(o);
      const { echoed, prompt_logprobs, prompt_token_ids } = promptParts(o);
      if (echoed) c.logprobs = echoed;
      if (prompt_logprobs) c.prompt_logprobs = prompt_logprobs;
      if (prompt_token_ids) c.prompt_token_ids = prompt_token_ids;
      c.token_ids?.push(...o.tokenIds);
      if (o.logprobs) {
        const lp = completionLogprobs(ctx.tokenizer, o.logprobs, c.text.length);
        c.logprobs = c.logprobs ? mergeLogprobs(c.logprobs, lp) : lp;
      }
      c.text += o.text;
      completionTokens += o.tokenIds.length;
      if (o.finishReason) {
        c.finish_reason = o.finishReason;
        c.stop_reason = o.stopReason;
      }
    }
    return { ...base, choices, usage: usage(completionTokens), ...(kvTransferParams ? { kv_transfer_params: kvTransferParams } : {}) };
  });
}

async function stream(
  reply: FastifyReply, outputs: AsyncGenerator<ChoiceOutput>, base: object, body: CompletionRequest, ctx: ServerContext,
  echo: (o: ChoiceOutput) => string, promptParts: (o: ChoiceOutput) => { echoed?: CompletionLogprobs; prompt_logprobs?: unknown; prompt_token_ids?: number[] },
  usage: (completion: number) => object,
): Promise<void> {
  // The first output (or an admission error, still as a plain HTTP error) comes before the headers.
  const first = await outputs.next();
  const sse = new SseStream(reply);
  const includeUsage = body.stream_options?.include_usage === true;
  const offsets = new Map<number, number>();
  let completionTokens = 0;
  const send = (o: ChoiceOutput) => {
    let text = o.text;
    if (o.promptTokenIds) text = echo(o) + text;
    const offset = offsets.get(o.choice) ?? 0;
    offsets.set(o.choice, offset + text.length);
    completionTokens += o.tokenIds.length;
    const { echoed, prompt_logprobs, prompt_token_ids } = promptParts(o);
    const generated = o.logprobs ? completionLogprobs(ctx.tokenizer, o.logprobs, offset + (text.length - o.text.length)) : null;
    sse.send({
      ...base,
      choices: [{
        index: o.choice, text,
        logprobs: echoed && generated ? mergeLogprobs(echoed, generated) : echoed ?? generated,
        finish_reason: o.finishReason, stop_reason: o.stopReason,
        ...(prompt_logprobs ? { prompt_logprobs } : {}),
        ...(body.return_token_ids ? { ...(prompt_token_ids ? { prompt_token_ids } : {}), token_ids: o.tokenIds } : {}),
      }],
      ...(includeUsage ? { usage: null } : {}),
    });
  };
  try {
    if (!first.done) send(first.value);
    for await (const o of outputs) send(o);
    if (includeUsage) sse.send({ ...base, choices: [], usage: usage(completionTokens) });
  } catch (e) {
    sse.send({ error: { message: (e as Error).message, type: 'internal_error', param: null, code: null } });
  }
  sse.end();
}

function mergeLogprobs(a: CompletionLogprobs, b: CompletionLogprobs): CompletionLogprobs {
  return {
    tokens: [...a.tokens, ...b.tokens],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
    text_offset: [...a.text_offset, ...b.text_offset],
  };
}

