// The request bodies of the OpenAI-compatible routes, validated with zod. Fields follow OpenAI's API,
// plus vLLM's sampling extensions (top_k, min_p, repetition_penalty, min_tokens, ignore_eos,
// stop_token_ids, skip_special_tokens). Unknown fields are ignored, as vLLM does.

import { z } from 'zod';
import { structuredRequestFields } from './structured-request.js';

const tokenIds = z.array(z.number().int().min(0)).min(1);

const sampling = {
  max_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
  stop_token_ids: z.array(z.number().int().min(0)).nullish(),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  repetition_penalty: z.number().gt(0).max(10).nullish(),
  min_tokens: z.number().int().min(0).nullish(),
  ignore_eos: z.boolean().nullish(),
  skip_special_tokens: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
  priority: z.number().int().nullish(),
  /** vLLM: each prompt token's logprob and the top N at its position. */
  prompt_logprobs: z.number().int().min(0).max(20).nullish(),
  logit_bias: z.record(z.string().regex(/^\d+$/, 'keys are token ids'), z.number().min(-100).max(100)).nullish(),
  // Accepted and ignored, as vLLM does: nothing is stored, and there is one service tier.
  metadata: z.record(z.string(), z.string()).nullish(),
  store: z.boolean().nullish(),
  service_tier: z.string().nullish(),
  /** vLLM's prefill/decode disaggregation: {do_remote_decode: true}, or the prefill side's answer. */
  kv_transfer_params: z.record(z.string(), z.unknown()).nullish(),
  ...structuredRequestFields,
};

export const completionRequestSchema = z.object({
  model: z.string(),
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)]),
  logprobs: z.number().int().min(0).max(20).nullish(),
  echo: z.boolean().nullish(),
  /** vLLM: each choice carries prompt_token_ids and token_ids. */
  return_token_ids: z.boolean().nullish(),
  ...sampling,
});
export type CompletionRequest = z.output<typeof completionRequestSchema>;

const contentPart = z.object({ type: z.literal('text'), text: z.string() });
const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  name: z.string().optional(),
  /** An assistant turn's calls, rendered back through the chat template. */
  tool_calls: z.array(z.object({
    id: z.string(), type: z.literal('function'), function: z.object({ name: z.string().min(1), arguments: z.string() }),
  })).nullish(),
  /** A tool message: the call it answers. */
  tool_call_id: z.string().nullish(),
  /** A reasoning model's earlier thinking, when a client sends it back. */
  reasoning_content: z.string().nullish(),
// Only an assistant message may go without content (OpenAI's rule: it may carry tool calls instead).
}).refine((m) => m.role === 'assistant' || (m.content !== undefined && m.content !== null), { message: 'a non-assistant message needs content', path: ['content'] });
export type ChatRequestMessage = z.output<typeof message>;

export const chatRequestSchema = z.object({
  model: z.string(),
  messages: z.array(message).min(1),
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  add_generation_prompt: z.boolean().nullish(),
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
  /** Passed to the chat template as `tools`, as transformers' apply_chat_template does. */
  tools: z.array(z.object({
    type: z.literal('function'),
    function: z.object({ name: z.string().min(1), description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional() }).passthrough(),
  })).nullish(),
  tool_choice: z.union([
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
  ]).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  /** Passed to the chat template (gpt-oss reads it). */
  reasoning_effort: z.enum(['minimal', 'low', 'medium', 'high']).nullish(),
  ...sampling,
});
export type ChatRequest = z.output<typeof chatRequestSchema>;

export const tokenizeRequestSchema = z.union([
  z.object({ model: z.string().nullish(), prompt: z.string(), add_special_tokens: z.boolean().nullish() }),
  z.object({ model: z.string().nullish(), messages: z.array(message).min(1), add_generation_prompt: z.boolean().nullish() }),
]);
export type TokenizeRequest = z.output<typeof tokenizeRequestSchema>;

export const detokenizeRequestSchema = z.object({ model: z.string().nullish(), tokens: z.array(z.number().int().min(0)) });

/** POST /v1/embeddings: OpenAI's fields (`user` accepted and ignored). */
export const embeddingRequestSchema = z.object({
  model: z.string().nullish(),
  // OpenAI turns away empty strings (they would embed BOS alone).
  input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1), tokenIds, z.array(tokenIds).min(1)]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).nullish(),
  user: z.string().nullish(),
});
export type EmbeddingRequest = z.output<typeof embeddingRequestSchema>;
