// One normalized description of a decoder, read from any source format. Architectures differ only
// in these fields; the forward pass reads them, it is never copied per architecture.

import { ModelLoadError } from '../util/errors.js';
import type { RopeStyle } from '../kernels/backend.js';
import { deepseekV3Config, type GroupedRouting, type MlaConfig } from './deepseek-config.js';

export type { GroupedRouting, MlaConfig };
import { gatedMlpOf, longRope, withFamilyFields, yarnRope } from './hf-family-config.js';

export const SUPPORTED_ARCHITECTURES = [
  'llama', 'mistral', 'qwen2', 'qwen3', 'mixtral', 'qwen2_moe', 'qwen3_moe', 'gpt2', 'gemma2', 'gemma3_text', 'phi3', 'gpt_oss',
  'deepseek_v3',
] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

export type RopeScaling =
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | { type: 'linear'; factor: number }
  /** llama.cpp's rope_freqs.weight (Llama 3.x GGUFs): each inverse frequency divided by its factor. */
  | { type: 'freq-factors'; factors: number[] }
  /**
   * Phi-3's LongRoPE: per-frequency divisors, the long set once a sequence is past
   * originalMaxPositions; cos and sin are multiplied by attentionFactor.
   */
  | { type: 'longrope'; shortFactor: number[]; longFactor: number[]; originalMaxPositions: number; attentionFactor: number }
  /** YaRN: frequencies blended between interpolated and original over a ramp; cos/sin x attentionFactor. */
  | { type: 'yarn'; factor: number; originalMaxPositions: number; betaFast: number; betaSlow: number; truncate: boolean; attentionFactor: number };

export interface RopeConfig {
  theta: number;
  style: RopeStyle;
  rotaryDim: number;
  scaling: RopeScaling | null;
}

export interface MoeConfig {
  numExperts: number;
  topK: number;
  /** Renormalize the top-k routing weights to sum to 1. */
  normTopK: boolean;
  expertIntermediateSize: number;
  /** 0 when there is no shared expert. */
  sharedExpertIntermediateSize: number;
  /** DeepSeek-V3's router; absent: softmax over the logits, top-k. */
  grouped?: GroupedRouting;
  /** Layers before this one are dense MLPs (DeepSeek's first_k_dense_replace). */
  firstMoeLayer?: number;
}

export interface ModelConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  norm: 'rms' | 'layer';
  normEps: number;
  /** null: learned absolute positions (GPT-2). */
  rope: RopeConfig | null;
  /** Tokens a query sees, itself included; 0 = unlimited. */
  slidingWindow: number;
  qkvBias: boolean;
  /** Biases on the attention output and MLP projections (GPT-2). */
  outputBias: boolean;
  qkNorm: boolean;
  /** gated: act(gate) * up; gelu is the tanh approximation; gated-swiglu-oai is gpt-oss's clamped one. */
  mlp: 'gated-silu' | 'gated-gelu' | 'gated-swiglu-oai' | 'gelu';
  moe: MoeConfig | null;
  tieEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** The embeddings are multiplied by this (Gemma: sqrt(hidden) rounded to float32). */
  embedScale?: number;
  /** Attention score scale; 1/sqrt(headDim) when absent (Gemma: query_pre_attn_scalar^-0.5). */
  attnScale?: number;
  /** Attention scores become c * tanh(s / c) (Gemma 2). */
  attnSoftcap?: number;
  /** Final logits become c * tanh(l / c) (Gemma 2). */
  finalSoftcap?: number;
  /** Norms on the attention and MLP outputs before each residual add (Gemma 2/3). */
  sandwichNorms?: boolean;
  /** Per layer, whether it uses slidingWindow (Gemma 2/3 alternate sliding and full layers); absent: all do. */
  slidingLayers?: boolean[];
  /** RoPE of the sliding layers where it differs from `rope` (Gemma 3's rope_local_base_freq). */
  localRope?: RopeConfig;
  /** gpt-oss: a learned logit per head in every softmax's denominator. */
  attnSinks?: boolean;
  /** gpt-oss's clamp on gate and up in its SwiGLU. */
  swigluLimit?: number;
  mla?: MlaConfig;
}

type Json = Record<string, unknown>;

export function num(cfg: Json, key: string, file: string, fallback?: number): number {
  const v = cfg[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelLoadError(file, `missing numeric field "${key}"`);
  }
  throw new ModelLoadError(file, `field "${key}" must be a number, got ${JSON.stringify(v)}`);
}

function idList(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

export function ropeScaling(cfg: Json, file: string): RopeScaling | null {
  const s = cfg['rope_scaling'] as Json | null | undefined;
  if (!s) return null;
  const type = (s['rope_type'] ?? s['type']) as string | undefined;
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: num(s, 'factor', file),
      lowFreqFactor: num(s, 'low_freq_factor', file),
      highFreqFactor: num(s, 'high_freq_factor', file),
      originalMaxPositions: num(s, 'original_max_position_embeddings', file),
    };
  }
  if (type === 'linear') return { type: 'linear', factor: num(s, 'factor', file) };
  if (type === 'longrope') return longRope(cfg, s, file);
  if (type === 'yarn') return yarnRope(cfg, s, file);
  if (type === 'default') return null;
  throw new ModelLoadError(file, `unsupported rope_scaling type "${type}" (supported: llama3, linear, longrope, yarn)`);
}

export function unsupportedArchitecture(file: string, name: string): ModelLoadError {
  return new ModelLoadError(file, `unknown architecture "${name}"; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`);
}

/** Reads a Hugging Face config.json object. */
export function configFromHf(cfg: Json, file: string): ModelConfig {
  const modelType = cfg['model_type'];
  if (typeof modelType !== 'string') throw new ModelLoadError(file, 'missing "model_type"');
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(modelType)) throw unsupportedArchitecture(file, modelType);
  const architecture = modelType as Architecture;
  const eosTokenIds = idList(cfg['eos_token_id']);
  const bos = cfg['bos_token_id'];
  const bosTokenId = typeof bos === 'number' ? bos : null;

  if (architecture === 'gpt2') {
    const hidden = num(cfg, 'n_embd', file);
    const heads = num(cfg, 'n_head', file);
    const act = cfg['activation_function'] ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
      throw new ModelLoadError(file, `unsupported GPT-2 activation_function "${String(act)}" (supported: gelu_new)`);
    }
    return {
      architecture, vocabSize: num(cfg, 'vocab_size', file), hiddenSize: hidden,
      intermediateSize: num(cfg, 'n_inner', file, 4 * hidden), numLayers: num(cfg, 'n_layer', file),
      numHeads: heads, numKvHeads: heads, headDim: hidden / heads, maxPositions: num(cfg, 'n_positions', file),
      norm: 'layer', normEps: num(cfg, 'layer_norm_epsilon', file, 1e-5), rope: null, slidingWindow: 0,
      qkvBias: true, outputBias: true, qkNorm: false, mlp: 'gelu', moe: null,
      tieEmbeddings: cfg['tie_word_embeddings'] !== false, bosTokenId, eosTokenIds,
    };
  }

  if (architecture === 'deepseek_v3') return deepseekV3Config(cfg, file, bosTokenId, eosTokenIds);
  const hidden = num(cfg, 'hidden_size', file);
  const heads = num(cfg, 'num_attention_heads', file);
  const headDim = num(cfg, 'head_dim', file, hidden / heads);
  const mlp = gatedMlpOf(cfg, architecture, file);

  // Qwen configs carry a sliding_window value that only applies when use_sliding_window is true.
  let slidingWindow = 0;
  const sw = cfg['sliding_window'];
  if (typeof sw === 'number' && sw > 0 && cfg['use_sliding_window'] !== false) slidingWindow = sw;

  let moe: MoeConfig | null = null;
  if (architecture === 'mixtral') {
    moe = {
      numExperts: num(cfg, 'num_local_experts', file), topK: num(cfg, 'num_experts_per_tok', file), normTopK: true,
      expertIntermediateSize: num(cfg, 'intermediate_size', file), sharedExpertIntermediateSize: 0,
    };
  } else if (architecture === 'gpt_oss') {
    // Top-k of the router logits, softmax over those k: the renormalized top-k of the full softmax.
    moe = {
      numExperts: num(cfg, 'num_local_experts', file), topK: num(cfg, 'num_experts_per_tok', file), normTopK: true,
      expertIntermediateSize: num(cfg, 'intermediate_size', file), sharedExpertIntermediateSize: 0,
    };
  } else if (architecture === 'qwen2_moe' || architecture === 'qwen3_moe') {
    const mlpOnly = cfg['mlp_only_layers'];
    const sparseStep = num(cfg, 'decoder_sparse_step', file, 1);
    if ((Array.isArray(mlpOnly) && mlpOnly.length > 0) || sparseStep !== 1) {
      throw new ModelLoadError(file, 'MoE models with dense layers (mlp_only_layers, decoder_sparse_step != 1) are not supported');
    }
    moe = {
      numExperts: num(cfg, 'num_experts', file), topK: num(cfg, 'num_experts_per_tok', file),
      normTopK: cfg['norm_topk_prob'] === true, expertIntermediateSize: num(cfg, 'moe_intermediate_size', file),
      sharedExpertIntermediateSize: architecture === 'qwen2_moe' ? num(cfg, 'shared_expert_intermediate_size', file, 0) : 0,
    };
  }

  const isQwen2 = architecture === 'qwen2' || architecture === 'qwen2_moe';
  return withFamilyFields({
    architecture, vocabSize: num(cfg, 'vocab_size', file), hiddenSize: hidden,
    intermediateSize: num(cfg, 'intermediate_size', file), numLayers: num(cfg, 'num_hidden_layers', file),
    numHeads: heads, numKvHeads: num(cfg, 'num_key_value_heads', file, heads), headDim,
    maxPositions: num(cfg, 'max_position_embeddings', file, 2048), norm: 'rms',
    normEps: num(cfg, 'rms_norm_eps', file, 1e-6),
    rope: { theta: num(cfg, 'rope_theta', file, 10000), style: 'neox', rotaryDim: headDim, scaling: ropeScaling(cfg, file) },
    slidingWindow, qkvBias: isQwen2 || cfg['attention_bias'] === true, outputBias: false,
    qkNorm: architecture === 'qwen3' || architecture === 'qwen3_moe' || architecture === 'gemma3_text', mlp, moe,
    // Gemma ties its embeddings unless the config says otherwise.
    tieEmbeddings: cfg['tie_word_embeddings'] === true || (cfg['tie_word_embeddings'] === undefined && architecture.startsWith('gemma')),
    bosTokenId, eosTokenIds,
  }, cfg, file);
}

export function validateConfig(c: ModelConfig, file: string): void {
  const positive: (keyof ModelConfig)[] = ['vocabSize', 'hiddenSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim'];
  for (const k of positive) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v <= 0) throw new ModelLoadError(file, `${k} must be a positive integer, got ${v}`);
  }
  if (c.numHeads % c.numKvHeads !== 0) {
    throw new ModelLoadError(file, `num_attention_heads (${c.numHeads}) must be a multiple of num_key_value_heads (${c.numKvHeads})`);
  }
  const s = c.rope?.scaling;
  if (c.rope && s?.type === 'freq-factors' && s.factors.length !== c.rope.rotaryDim / 2) {
    throw new ModelLoadError(file, `rope_freqs.weight has ${s.factors.length} factors, the rotary dimension ${c.rope.rotaryDim} needs ${c.rope.rotaryDim / 2}`);
  }
  if (c.rope && (c.rope.rotaryDim % 2 !== 0 || c.rope.rotaryDim > c.headDim)) {
    throw new ModelLoadError(file, `rotary dimension ${c.rope.rotaryDim} must be even and at most head_dim ${c.headDim}`);
  }
}

/**
 * Inverse rotary frequencies, with the model's scaling applied (Meta's apply_scaling for llama3);
 * `long`: LongRoPE's long factors.
 */
export function ropeInvFreq(rope: RopeConfig, long = false): Float32Array {
  const half = rope.rotaryDim / 2;
  const out = new Float32Array(half);
  for (let j = 0; j < half; j++) {
    const power = Math.fround(rope.theta ** Math.fround((2 * j) / rope.rotaryDim));
    let f = Math.fround(1 / power);
    const s = rope.scaling;
    if (s?.type === 'linear') f /= s.factor;
    else if (s?.type === 'freq-factors') f = Math.fround(f / Math.fround(s.factors[j]!));
    else if (s?.type === 'yarn') f = yarnInvFreq(s, rope, j, power);
    // transformers: 1 / (factor * base^(2j/d)), in float32.
    else if (s?.type === 'longrope') f = Math.fround(1 / Math.fround(Math.fround((long ? s.longFactor : s.shortFactor)[j]!) * power));
    else if (s?.type === 'llama3') {
      const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
      const highWavelen = s.originalMaxPositions / s.highFreqFactor;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) f /= s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        f = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
    out[j] = f;
  }
  return out;
}

// transformers' _compute_yarn_parameters, in float32 where it computes in float32: the ramp runs over
// the frequencies whose wavelengths fall between beta_fast and beta_slow turns of the original context.
function yarnInvFreq(s: Extract<RopeScaling, { type: 'yarn' }>, rope: RopeConfig, j: number, power: number): number {
  const dim = rope.rotaryDim;
  const correctionDim = (turns: number) => (dim * Math.log(s.originalMaxPositions / (turns * 2 * Math.PI))) / (2 * Math.log(rope.theta));
  let low = correctionDim(s.betaFast), high = correctionDim(s.betaSlow);
  if (s.truncate) [low, high] = [Math.floor(low), Math.ceil(high)];
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const ramp = Math.min(1, Math.max(0, Math.fround(Math.fround(j - low) / Math.fround(high - low))));
  const extrapolation = Math.fround(1 - ramp);
  const interpolated = Math.fround(1 / Math.fround(s.factor * power)), original = Math.fround(1 / power);
  return Math.fround(Math.fround(interpolated * Math.fround(1 - extrapolation)) + Math.fround(original * extrapolation));
}
