// A chat request's messages as the prompt: through the model's chat template (with the request's
// tools, reasoning effort and chat_template_kwargs as template variables), tool calls and tool results
// included, tokenized without extra special tokens; for a model without a template, their text.

import type { ChatMessage } from '../model/tokenizer/chat-template.js';
import { chatPromptIds } from '../model/tokenizer/chat-prompt.js';
import { UsageError } from '../util/errors.js';
import { invalidRequest } from './openai-error.js';
import type { ChatRequest, ChatRequestMessage } from './openai-schemas.js';
import type { ServerContext } from './server-context.js';

/** The template variables of a request: its chat_template_kwargs, its tools as `tools`, its reasoning_effort. */
export function chatTemplateKwargs(body: ChatRequest): Record<string, unknown> | undefined {
  const extra = { ...(body.tools ? { tools: body.tools } : {}), ...(body.reasoning_effort ? { reasoning_effort: body.reasoning_effort } : {}) };
  if (Object.keys(extra).length === 0) return body.chat_template_kwargs ?? undefined;
  return { ...body.chat_template_kwargs, ...extra };
}

/**
 * The messages as the template expects them: content as text; a call's arguments as an object where
 * the template serializes them itself (`arguments | tojson`, as Llama 3.1's does), else as the JSON text
 * the API carries (DeepSeek's template concatenates it).
 */
export function templateMessages(messages: ChatRequestMessage[], template: string | null): ChatMessage[] {
  const argsAsObject = template !== null && /arguments\s*\|\s*tojson/.test(template);
  // DeepSeek's template renders an assistant turn's calls only when its content is none; the others
  // (Qwen's) treat content as a string.
  const nullContent = template !== null && /content'?\]?\s+is\s+none/.test(template);
  return messages.map((m) => {
    const { tool_calls: calls, ...rest } = m;
    const content = typeof m.content === 'string' ? m.content : m.content ? m.content.map((p) => p.text).join('') : nullContent ? null : '';
    const out: ChatMessage = { ...rest, content: content as string };
    if (calls) {
      out['tool_calls'] = calls.map((c) => ({
        ...c, function: { name: c.function.name, arguments: argsAsObject ? parseArguments(c.function.arguments) : c.function.arguments },
      }));
    }
    return out;
  });
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalidRequest(`a tool call's arguments are not JSON: ${text.slice(0, 80)}`, 'messages');
  }
}

/**
 * The messages as the model's chat template renders them, tokenized without extra special tokens; for a
 * model without a template, their text to continue.
 */
export function renderChat(ctx: ServerContext, messages: ChatRequestMessage[], addGenerationPrompt: boolean, kwargs?: Record<string, unknown>): number[] {
  const tok = ctx.tokenizer;
  if (!tok) throw invalidRequest('this model has no tokenizer, so it cannot take chat messages; use /v1/completions with token ids', 'messages');
  try {
    const plain = templateMessages(messages, tok.chatTemplate);
    return chatPromptIds(tok, plain, { addGenerationPrompt, ...(kwargs ? { kwargs } : {}) });
  } catch (e) {
    if (e instanceof UsageError) throw invalidRequest(e.message, 'messages');
    throw e;
  }
}
