// What a request asks of the sampler and the stop checker, validated once at the edge (CLI, library,
// server) so that the engine can trust it.

import { z } from 'zod';
import { UsageError } from '../../util/errors.js';
import { structuredOutputsSchema } from '../structured/structured-outputs.js';

export const samplingParamsSchema = z.object({
  /** Completions generated per prompt. */
  n: z.number().int().min(1).max(128).default(1),
  /** 0 = greedy. */
  temperature: z.number().min(0).max(100).default(1),
  topP: z.number().gt(0).max(1).default(1),
  /** 0 = off. */
  topK: z.number().int().min(0).default(0),
  minP: z.number().min(0).max(1).default(0),
  /** > 1 discourages every token already in the prompt or the output (HF/vLLM semantics). */
  repetitionPenalty: z.number().gt(0).max(10).default(1),
  /** OpenAI semantics, over output tokens only. */
  presencePenalty: z.number().min(-2).max(2).default(0),
  frequencyPenalty: z.number().min(-2).max(2).default(0),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  maxTokens: z.number().int().min(1).default(16),
  minTokens: z.number().int().min(0).default(0),
  /** Strings that end generation; never part of the output text. */
  stop: z.array(z.string().min(1)).max(16).default([]),
  stopTokenIds: z.array(z.number().int().min(0)).default([]),
  ignoreEos: z.boolean().default(false),
  /** Top-N logprobs per generated token (plus the chosen one); absent = none. */
  logprobs: z.number().int().min(0).max(20).optional(),
  /** vLLM's prompt_logprobs: each prompt token's logprob and the top-N alternatives at its position; absent = none. */
  promptLogprobs: z.number().int().min(0).max(20).optional(),
  skipSpecialTokens: z.boolean().default(true),
  /** Added to the logits of these token ids before sampling (OpenAI's logit_bias: -100 bans, 100 forces). */
  logitBias: z.array(z.tuple([z.number().int().min(0), z.number().min(-100).max(100)])).max(1024).optional(),
  /** Constrained decoding: the output must match this. */
  structuredOutputs: structuredOutputsSchema.optional(),
});

export type SamplingParams = z.output<typeof samplingParamsSchema>;
export type SamplingParamsInput = z.input<typeof samplingParamsSchema>;

export function makeSamplingParams(input: SamplingParamsInput = {}): SamplingParams {
  const r = samplingParamsSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new UsageError(`invalid sampling parameter ${issue.path.join('.') || '(params)'}: ${issue.message}`);
  }
  if (r.data.minTokens > r.data.maxTokens) {
    throw new UsageError(`invalid sampling parameter minTokens: ${r.data.minTokens} is more than maxTokens ${r.data.maxTokens}`);
  }
  return r.data;
}
