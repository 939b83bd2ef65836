// Speculative decoding's knobs (vLLM's names where it has them) and their checks.

import type { ModelConfig } from '../../model/config.js';
import { UsageError } from '../../util/errors.js';

export const SPECULATIVE_METHODS = ['ngram', 'draft-model', 'layer-skip'] as const;
export type SpeculativeMethod = (typeof SPECULATIVE_METHODS)[number];

export interface SpeculativeConfigInput {
  /** ngram: prompt lookup; draft-model: speculativeModel proposes; layer-skip: the target's first draftLayers layers. */
  speculativeMethod?: SpeculativeMethod;
  /** A draft model sharing the target's tokenizer (implies speculativeMethod draft-model). */
  speculativeModel?: string;
  /** Draft tokens per step per sequence. */
  numSpeculativeTokens?: number;
  /** ngram: shortest and longest suffix to look up. */
  promptLookupMin?: number;
  promptLookupMax?: number;
  /** layer-skip: layers the draft keeps. */
  draftLayers?: number;
}

export interface SpeculativeConfig {
  method: SpeculativeMethod;
  numSpeculativeTokens: number;
  promptLookupMin: number;
  promptLookupMax: number;
  draftLayers: number;
  speculativeModel: string | null;
}

export const DEFAULT_NUM_SPECULATIVE_TOKENS = 4;

/** null when speculation is off (no method and no draft model). */
export function resolveSpeculativeConfig(model: ModelConfig, input: SpeculativeConfigInput): SpeculativeConfig | null {
  const method = input.speculativeMethod ?? (input.speculativeModel ? 'draft-model' : undefined);
  if (!method) {
    if (input.numSpeculativeTokens !== undefined) throw new UsageError('numSpeculativeTokens needs a speculative method or a speculative model');
    return null;
  }
  if (!(SPECULATIVE_METHODS as readonly string[]).includes(method)) throw new UsageError(`speculative method must be one of ${SPECULATIVE_METHODS.join(', ')}; got '${method}'`);
  if (method === 'draft-model' && !input.speculativeModel) throw new UsageError('speculative method draft-model needs a speculative model');
  if (method !== 'draft-model' && input.speculativeModel) throw new UsageError(`a speculative model is only used by the draft-model method, not ${method}`);
  const c: SpeculativeConfig = {
    method,
    numSpeculativeTokens: input.numSpeculativeTokens ?? DEFAULT_NUM_SPECULATIVE_TOKENS,
    // A 1-token match proposes too often to pay: on stories260K min 2 lifted acceptance from 52% to 67%.
    promptLookupMin: input.promptLookupMin ?? Math.min(2, input.promptLookupMax ?? 4),
    promptLookupMax: input.promptLookupMax ?? 4,
    draftLayers: input.draftLayers ?? Math.max(1, Math.floor(model.numLayers / 2)),
    speculativeModel: input.speculativeModel ?? null,
  };
  const int = (name: string, v: number, min: number, max = Infinity) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`${name} must be an integer from ${min}${max < Infinity ? ` to ${max}` : ''}, got ${v}`);
  };
  int('numSpeculativeTokens', c.numSpeculativeTokens, 1, 32);
  int('promptLookupMin', c.promptLookupMin, 1);
  int('promptLookupMax', c.promptLookupMax, c.promptLookupMin);
  if (method === 'layer-skip') int('draftLayers', c.draftLayers, 1, model.numLayers);
  return c;
}

/** A draft model must speak the target's token ids. */
export function checkDraftCompatible(target: ModelConfig, draft: ModelConfig): void {
  if (draft.vocabSize !== target.vocabSize) {
    throw new UsageError(`the draft model's vocabulary has ${draft.vocabSize} tokens but the target's has ${target.vocabSize}: they must share a tokenizer`);
  }
}
