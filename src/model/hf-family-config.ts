// What Gemma 2/3 and Phi-3 add to the Llama-family reading of a config.json: their activations,
// norms, query scale, soft-caps, sliding/full layer patterns, per-layer RoPE bases and LongRoPE.

import { ModelLoadError } from '../util/errors.js';
import type { Architecture, ModelConfig, RopeScaling } from './config.js';

type Json = Record<string, unknown>;

const optionalNumber = (cfg: Json, key: string): number | undefined => {
  const v = cfg[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

/** The MLP of a Llama-family config: hidden_act, or Gemma's hidden_activation. */
export function gatedMlpOf(cfg: Json, architecture: Architecture, file: string): ModelConfig['mlp'] {
  const isGemma = architecture === 'gemma2' || architecture === 'gemma3_text';
  const act = (isGemma ? cfg['hidden_activation'] ?? cfg['hidden_act'] : cfg['hidden_act']) ?? 'silu';
  if (act === 'silu') return 'gated-silu';
  if (act === 'gelu_pytorch_tanh') return 'gated-gelu';
  throw new ModelLoadError(file, `unsupported hidden activation "${String(act)}" (supported: silu, gelu_pytorch_tanh)`);
}

/**
 * Phi-3's LongRoPE parameters: transformers' rule for the attention factor when the config gives
 * none, sqrt(1 + ln(max / original) / ln(original)).
 */
export function longRope(cfg: Json, s: Json, file: string): RopeScaling {
  const factors = (key: string): number[] => {
    const v = s[key];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new ModelLoadError(file, `rope_scaling.${key} must be a list of numbers`);
    return v as number[];
  };
  const original = optionalNumber(s, 'original_max_position_embeddings') ?? optionalNumber(cfg, 'original_max_position_embeddings');
  if (original === undefined) throw new ModelLoadError(file, 'longrope needs original_max_position_embeddings');
  const factor = (optionalNumber(cfg, 'max_position_embeddings') ?? original) / original;
  const attentionFactor = optionalNumber(s, 'attention_factor') ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original)));
  return { type: 'longrope', shortFactor: factors('short_factor'), longFactor: factors('long_factor'), originalMaxPositions: original, attentionFactor };
}

/** YaRN as transformers reads it: attention factor 0.1 ln(factor) + 1 unless the config gives one. */
export function yarnRope(cfg: Json, s: Json, file: string): RopeScaling {
  const factor = optionalNumber(s, 'factor');
  if (factor === undefined) throw new ModelLoadError(file, 'yarn rope_scaling needs a factor');
  const original = optionalNumber(s, 'original_max_position_embeddings') ?? optionalNumber(cfg, 'max_position_embeddings');
  if (original === undefined) throw new ModelLoadError(file, 'yarn needs original_max_position_embeddings');
  // DeepSeek's mscale / mscale_all_dim give the ratio of two such factors (1 when they are equal).
  const mscale = (m: number) => (factor <= 1 ? 1 : 0.1 * m * Math.log(factor) + 1);
  const [m, mAll] = [optionalNumber(s, 'mscale'), optionalNumber(s, 'mscale_all_dim')];
  const attentionFactor = optionalNumber(s, 'attention_factor') ?? (m !== undefined && mAll !== undefined ? mscale(m) / mscale(mAll) : mscale(1));
  return {
    type: 'yarn', factor, originalMaxPositions: original, betaFast: optionalNumber(s, 'beta_fast') ?? 32,
    betaSlow: optionalNumber(s, 'beta_slow') ?? 1, truncate: s['truncate'] !== false, attentionFactor,
  };
}

/** Gemma 2/3, Phi-3 and gpt-oss fields over the Llama-family config `base`. */
export function withFamilyFields(base: ModelConfig, cfg: Json, file: string): ModelConfig {
  const c = { ...base };
  const partial = optionalNumber(cfg, 'partial_rotary_factor');
  if (partial !== undefined && c.rope) c.rope = { ...c.rope, rotaryDim: Math.floor(c.headDim * partial) };
  const scaling = c.rope?.scaling;
  if (scaling?.type === 'longrope' && c.rope) {
    for (const list of [scaling.shortFactor, scaling.longFactor]) {
      if (list.length !== c.rope.rotaryDim / 2) throw new ModelLoadError(file, `longrope factor lists need ${c.rope.rotaryDim / 2} entries (rotary dim / 2), got ${list.length}`);
    }
  }
  if (c.architecture === 'gpt_oss') {
    c.mlp = 'gated-swiglu-oai';
    c.swigluLimit = optionalNumber(cfg, 'swiglu_limit') ?? 7;
    c.attnSinks = true;
    c.slidingLayers = slidingLayers(cfg, c.architecture, c.numLayers, file);
    return c;
  }
  if (c.architecture !== 'gemma2' && c.architecture !== 'gemma3_text') return c;

  c.embedScale = Math.fround(Math.sqrt(c.hiddenSize));
  c.sandwichNorms = true;
  const qScalar = optionalNumber(cfg, 'query_pre_attn_scalar');
  if (qScalar !== undefined) c.attnScale = qScalar ** -0.5;
  const attnCap = optionalNumber(cfg, 'attn_logit_softcapping');
  const finalCap = optionalNumber(cfg, 'final_logit_softcapping');
  if (attnCap) c.attnSoftcap = attnCap;
  if (finalCap) c.finalSoftcap = finalCap;
  c.slidingLayers = slidingLayers(cfg, c.architecture, c.numLayers, file);
  if (c.architecture === 'gemma3_text' && c.rope) {
    // Sliding layers keep the plain local base; rope_scaling applies to the global layers only.
    c.localRope = { ...c.rope, theta: optionalNumber(cfg, 'rope_local_base_freq') ?? 10000, scaling: null };
  }
  return c;
}

// layer_types when the config lists them; else Gemma 2 slides on even layers, Gemma 3 makes every
// sliding_window_pattern-th layer full (transformers' derivations).
function slidingLayers(cfg: Json, architecture: Architecture, numLayers: number, file: string): boolean[] {
  const types = cfg['layer_types'];
  if (Array.isArray(types)) {
    if (types.length !== numLayers) throw new ModelLoadError(file, `layer_types lists ${types.length} layers, the model has ${numLayers}`);
    return types.map((t) => t === 'sliding_attention');
  }
  if (architecture === 'gemma2' || architecture === 'gpt_oss') return Array.from({ length: numLayers }, (_, i) => i % 2 === 0);
  const pattern = optionalNumber(cfg, 'sliding_window_pattern') ?? 6;
  return Array.from({ length: numLayers }, (_, i) => (i + 1) % pattern !== 0);
}
