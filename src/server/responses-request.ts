// The Responses API's request, and the chat request it means: instructions as the system message,
// input items as messages (function calls as an assistant turn's tool_calls, their outputs as tool
// messages), tools and tool_choice in chat's shape, text.format as response_format. tsllm keeps no
// responses, so previous_response_id is refused and a conversation travels whole in `input`.

import { z } from 'zod';
import { invalidRequest } from './openai-error.js';
import { chatRequestSchema, type ChatRequest } from './openai-schemas.js';

const text = z.object({ type: z.enum(['input_text', 'output_text', 'text']), text: z.string() });
const inputItem = z.union([
  z.object({ type: z.literal('message').optional(), role: z.enum(['user', 'assistant', 'system', 'developer']), content: z.union([z.string(), z.array(text)]) }),
  z.object({ type: z.literal('function_call'), call_id: z.string(), name: z.string(), arguments: z.string(), id: z.string().optional() }),
  z.object({ type: z.literal('function_call_output'), call_id: z.string(), output: z.string() }),
  z.object({ type: z.literal('reasoning') }).passthrough(),
]);

export const responsesRequestSchema = z.object({
  model: z.string(),
  input: z.union([z.string(), z.array(inputItem).min(1)]),
  instructions: z.string().nullish(),
  tools: z.array(z.object({ type: z.string(), name: z.string().optional(), description: z.string().nullish(), parameters: z.record(z.string(), z.unknown()).nullish(), strict: z.boolean().nullish() })).nullish(),
  tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), name: z.string() })]).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z.object({ format: z.record(z.string(), z.unknown()).nullish() }).nullish(),
  reasoning: z.object({ effort: z.string().nullish() }).nullish(),
  max_output_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  stream: z.boolean().nullish(),
  previous_response_id: z.string().nullish(),
  store: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().nullish(),
  /** vLLM's extension, as on the chat route. */
  structured_outputs: z.record(z.string(), z.unknown()).nullish(),
});
export type ResponsesRequest = z.output<typeof responsesRequestSchema>;

export function chatRequestOf(r: ResponsesRequest): ChatRequest {
  if (r.previous_response_id) {
    throw invalidRequest('this server keeps no responses (store is off): send the whole conversation in input instead of previous_response_id', 'previous_response_id');
  }
  const messages: Record<string, unknown>[] = r.instructions ? [{ role: 'system', content: r.instructions }] : [];
  const items = typeof r.input === 'string' ? [{ role: 'user' as const, content: r.input }] : r.input;
  for (const item of items) {
    if (item.type === 'reasoning') continue;
    if (item.type !== 'function_call' && item.type !== 'function_call_output') {
      const m = item as { role: string; content: string | { text: string }[] };
      messages.push({ role: m.role, content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('') });
    } else if (item.type === 'function_call') {
      const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
      const last = messages[messages.length - 1];
      // Calls in a row are one assistant turn's parallel calls.
      if (last?.['role'] === 'assistant' && Array.isArray(last['tool_calls'])) (last['tool_calls'] as unknown[]).push(call);
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
    } else if (item.type === 'function_call_output') {
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: item.output });
    }
  }
  const tools = r.tools?.map((t) => {
    if (t.type !== 'function' || !t.name) throw invalidRequest(`tools of type ${t.type} are not supported; only function tools`, 'tools');
    return { type: 'function', function: { name: t.name, ...(t.description ? { description: t.description } : {}), ...(t.parameters ? { parameters: t.parameters } : {}) } };
  });
  const choice = r.tool_choice;
  const format = r.text?.format;
  const chat = chatRequestSchema.safeParse({
    model: r.model, messages,
    ...(tools ? { tools } : {}),
    ...(choice ? { tool_choice: typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } } } : {}),
    ...(r.parallel_tool_calls !== null && r.parallel_tool_calls !== undefined ? { parallel_tool_calls: r.parallel_tool_calls } : {}),
    ...(format?.['type'] === 'json_schema' ? { response_format: { type: 'json_schema', json_schema: { name: format['name'], schema: format['schema'], strict: format['strict'] } } } : {}),
    ...(format?.['type'] === 'json_object' ? { response_format: { type: 'json_object' } } : {}),
    ...(r.reasoning?.effort ? { reasoning_effort: r.reasoning.effort } : {}),
    ...(r.structured_outputs ? { structured_outputs: r.structured_outputs } : {}),
    ...(r.max_output_tokens ? { max_completion_tokens: r.max_output_tokens } : {}),
    ...(r.temperature !== null && r.temperature !== undefined ? { temperature: r.temperature } : {}),
    ...(r.top_p !== null && r.top_p !== undefined ? { top_p: r.top_p } : {}),
  });
  if (!chat.success) {
    const issue = chat.error.issues[0]!;
    throw invalidRequest(`${issue.path.join('.')}: ${issue.message}`, 'input');
  }
  return chat.data;
}
