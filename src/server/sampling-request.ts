// From an OpenAI request body to the engine's SamplingParams, with the length checks that must fail
// before anything is queued: prompt plus max_tokens may not exceed the model's length.

import { makeSamplingParams, type SamplingParams, type SamplingParamsInput } from '../engine/sampling/sampling-params.js';
import { UsageError } from '../util/errors.js';
import type { StructuredOutputs } from '../engine/structured/structured-outputs.js';
import { invalidRequest } from './openai-error.js';

export interface OpenAISampling {
  temperature?: number | null | undefined;
  top_p?: number | null | undefined;
  top_k?: number | null | undefined;
  min_p?: number | null | undefined;
  n?: number | null | undefined;
  stop?: string | string[] | null | undefined;
  stop_token_ids?: number[] | null | undefined;
  seed?: number | null | undefined;
  presence_penalty?: number | null | undefined;
  frequency_penalty?: number | null | undefined;
  repetition_penalty?: number | null | undefined;
  min_tokens?: number | null | undefined;
  ignore_eos?: boolean | null | undefined;
  skip_special_tokens?: boolean | null | undefined;
  prompt_logprobs?: number | null | undefined;
  logit_bias?: Record<string, number> | null | undefined;
}

export interface SamplingLimits {
  /** Longest prompt + output the engine allows. */
  maxModelLen: number;
  vocabSize: number;
  /** Defaults from the model's generation_config.json. */
  defaults: SamplingParamsInput;
}

/**
 * `maxTokens` null means "as many as fit" (chat's default); `logprobs` is the number of alternatives
 * to report, or null for none.
 */
export function toSamplingParams(
  body: OpenAISampling, promptLen: number, maxTokens: number | null, logprobs: number | null, limits: SamplingLimits, maxTokensField: string,
  structured?: StructuredOutputs,
): SamplingParams {
  const room = limits.maxModelLen - promptLen;
  if (room <= 0) {
    throw invalidRequest(
      `This model's maximum context length is ${limits.maxModelLen} tokens. However, your prompt has ${promptLen} tokens, which leaves no room for a completion. Please reduce the length of the prompt.`,
      'messages' in body ? 'messages' : 'prompt', 'context_length_exceeded');
  }
  if (maxTokens !== null && promptLen + maxTokens > limits.maxModelLen) {
    throw invalidRequest(
      `This model's maximum context length is ${limits.maxModelLen} tokens. However, you requested ${promptLen + maxTokens} tokens (${promptLen} in the prompt, ${maxTokens} in the completion). Please reduce the length of the prompt or ${maxTokensField}.`,
      maxTokensField, 'context_length_exceeded');
  }
  const input: SamplingParamsInput = { ...limits.defaults, maxTokens: maxTokens ?? room };
  const set = <K extends keyof SamplingParamsInput>(k: K, v: SamplingParamsInput[K] | null | undefined) => {
    if (v !== null && v !== undefined) input[k] = v;
  };
  set('temperature', body.temperature);
  set('topP', body.top_p);
  // vLLM takes -1 for "no top-k" as well as 0.
  set('topK', body.top_k === -1 ? 0 : body.top_k);
  set('minP', body.min_p);
  set('n', body.n);
  set('stop', typeof body.stop === 'string' ? [body.stop] : body.stop);
  set('stopTokenIds', body.stop_token_ids);
  set('seed', body.seed);
  set('presencePenalty', body.presence_penalty);
  set('frequencyPenalty', body.frequency_penalty);
  set('repetitionPenalty', body.repetition_penalty);
  set('minTokens', body.min_tokens);
  set('ignoreEos', body.ignore_eos);
  set('skipSpecialTokens', body.skip_special_tokens);
  set('promptLogprobs', body.prompt_logprobs);
  if (body.logit_bias) {
    const bias = Object.entries(body.logit_bias).map(([id, b]): [number, number] => [Number(id), b]);
    const bad = bias.find(([id]) => id >= limits.vocabSize);
    if (bad) throw invalidRequest(`logit_bias names token ${bad[0]}, beyond the vocabulary of ${limits.vocabSize}`, 'logit_bias');
    input.logitBias = bias;
  }
  if (logprobs !== null) input.logprobs = logprobs;
  if (structured) input.structuredOutputs = structured;
  try {
    return makeSamplingParams(input);
  } catch (e) {
    if (e instanceof UsageError) throw invalidRequest(e.message);
    throw e;
  }
}
