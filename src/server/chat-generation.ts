// A chat request on its way into the engine, shared by /v1/chat/completions and /v1/responses: the
// tools and output constraint resolved, the messages rendered, the sampling parameters checked, and a
// parser per choice to split its text into reasoning, content and tool calls.

import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { SamplingParams } from '../engine/sampling/sampling-params.js';
import { chatTemplateKwargs, renderChat } from './chat-render.js';
import { ChoiceParser, type ReplyParser } from './choice-parser.js';
import { HarmonyParser } from './harmony-parser.js';
import { startGeneration, type ChoiceOutput } from './generation.js';
import { invalidRequest } from './openai-error.js';
import type { ChatRequest } from './openai-schemas.js';
import { promptOpensReasoning } from './reasoning-parser.js';
import { toSamplingParams } from './sampling-request.js';
import type { ServerContext } from './server-context.js';
import { namingField, structuredOutputsOf } from './structured-request.js';
import type { ParsedToolCall } from './tools/tool-call-parsers.js';
import { toolPlan } from './tools/tool-choice.js';

export interface ChatGeneration {
  promptIds: number[];
  params: SamplingParams;
  outputs: AsyncGenerator<ChoiceOutput>;
  parsers: ReplyParser[];
}

export function startChat(ctx: ServerContext, reply: FastifyReply, body: ChatRequest, requestId: string): ChatGeneration {
  const tools = toolPlan(body, ctx.toolParser);
  const structured = structuredOutputsOf(body);
  if (structured && tools.structured) throw invalidRequest('a tool_choice that forces calls cannot be combined with an output constraint', 'tool_choice');
  const constraint = tools.structured ? { spec: tools.structured, field: 'tool_choice' } : structured;
  const promptIds = renderChat(ctx, body.messages, body.add_generation_prompt ?? true, chatTemplateKwargs(body));
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? null;
  const field = body.max_completion_tokens ? 'max_completion_tokens' : 'max_tokens';
  const logprobs = body.logprobs ? (body.top_logprobs ?? 0) : null;
  if (!body.logprobs && body.top_logprobs) throw invalidRequest('top_logprobs needs logprobs: true', 'top_logprobs');
  // Harmony's markers are special tokens: the reply keeps them for its parser.
  const harmony = ctx.toolParser?.name === 'harmony' || ctx.reasoningParser?.name === 'harmony';
  const params = toSamplingParams(harmony ? { ...body, skip_special_tokens: false } : body, promptIds.length, maxTokens, logprobs, ctx.limits, field, constraint?.spec);
  const outputs = namingField(startGeneration(ctx, reply, requestId, [{ promptIds, params }], body.priority ?? 0, body.kv_transfer_params), constraint?.field);
  const reasoning = ctx.reasoningParser;
  const opens = reasoning !== null && promptOpensReasoning(reasoning, ctx.tokenizer!.decode(promptIds.slice(-16), { skipSpecialTokens: false }));
  const parsers = Array.from({ length: params.n }, () => (harmony ? new HarmonyParser(tools.parser !== null) : new ChoiceParser(tools.parser, reasoning, opens)));
  return { promptIds, params, outputs, parsers };
}

export interface ToolCallOut { id: string; type: 'function'; function: { name: string; arguments: string } }

export const toolCallsOut = (calls: ParsedToolCall[]): ToolCallOut[] =>
  calls.map((c) => ({ id: `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`, type: 'function', function: { name: c.name, arguments: c.arguments } }));

/** finish_reason "tool_calls" when the reply ended by itself after making calls. */
export const finishReason = (reason: string, calls: ParsedToolCall[] | null) => (calls && reason === 'stop' ? 'tool_calls' : reason);
