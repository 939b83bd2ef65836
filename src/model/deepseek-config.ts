// DeepSeek-V3's config.json (DeepSeek-R1 and V2-Lite share the layout): multi-head latent attention,
// dense first layers, then MoE layers with shared experts and group-limited sigmoid routing.

import { ModelLoadError } from '../util/errors.js';
import { num, ropeScaling, type ModelConfig } from './config.js';

type Json = Record<string, unknown>;

/**
 * DeepSeek's routing: sigmoid (V3) or softmax (V2) scores, a per-expert bias that steers the choice (not the weights),
 * the best `topKGroups` of `groups` expert groups (each scored by its two best), the top k within them,
 * weights renormalized when normTopK and multiplied by `scale`.
 */
export interface GroupedRouting {
  /** DeepSeek-V3: sigmoid; V2: softmax over all experts. */
  scoring: 'sigmoid' | 'softmax';
  groups: number;
  topKGroups: number;
  scale: number;
}

/**
 * Multi-head latent attention (DeepSeek-V2/V3): keys and values come from a kvLoraRank latent shared
 * by all heads, plus a qkRopeDim key part that alone carries positions. The cache holds only those
 * (one "KV head" of headDim = qkRopeDim + kvLoraRank: the rotated part first, then the latent).
 */
export interface MlaConfig {
  /** 0: queries come straight from the hidden state (q_proj); else through this rank (q_a, q_b). */
  qLoraRank: number;
  kvLoraRank: number;
  qkNopeDim: number;
  qkRopeDim: number;
  vHeadDim: number;
}

export function deepseekV3Config(cfg: Json, file: string, bosTokenId: number | null, eosTokenIds: number[]): ModelConfig {
  const heads = num(cfg, 'num_attention_heads', file);
  const qLora = cfg['q_lora_rank'];
  const mla = {
    qLoraRank: qLora === null || qLora === undefined ? 0 : num(cfg, 'q_lora_rank', file),
    kvLoraRank: num(cfg, 'kv_lora_rank', file),
    qkNopeDim: num(cfg, 'qk_nope_head_dim', file),
    qkRopeDim: num(cfg, 'qk_rope_head_dim', file),
    vHeadDim: num(cfg, 'v_head_dim', file),
  };
  if (num(cfg, 'moe_layer_freq', file, 1) !== 1) throw new ModelLoadError(file, 'moe_layer_freq other than 1 is not supported');
  const scoring = cfg['scoring_func'] ?? 'sigmoid';
  if (scoring !== 'sigmoid' && scoring !== 'softmax') throw new ModelLoadError(file, `unsupported scoring_func "${String(scoring)}" (supported: sigmoid, softmax)`);
  const experts = num(cfg, 'n_routed_experts', file);
  const groups = num(cfg, 'n_group', file, 1);
  if (experts % groups !== 0) throw new ModelLoadError(file, `n_routed_experts (${experts}) must be a multiple of n_group (${groups})`);
  const expertSize = num(cfg, 'moe_intermediate_size', file);
  const scaling = ropeScaling(cfg, file);
  if (cfg['attention_bias'] === true) throw new ModelLoadError(file, 'DeepSeek attention with biases (attention_bias) is not supported');

  // transformers: softmax scale (nope + rope)^-0.5, times yarn_get_mscale(factor, mscale_all_dim)^2.
  let attnScale = (mla.qkNopeDim + mla.qkRopeDim) ** -0.5;
  const rs = cfg['rope_scaling'] as Json | null | undefined;
  const mAll = rs?.['mscale_all_dim'];
  if (scaling?.type === 'yarn' && typeof mAll === 'number' && mAll !== 0 && scaling.factor > 1) {
    const m = 0.1 * mAll * Math.log(scaling.factor) + 1;
    attnScale *= m * m;
  }
  return {
    architecture: 'deepseek_v3', vocabSize: num(cfg, 'vocab_size', file), hiddenSize: num(cfg, 'hidden_size', file),
    intermediateSize: num(cfg, 'intermediate_size', file), numLayers: num(cfg, 'num_hidden_layers', file),
    // What the attention kernels see: every query head against one latent "KV head".
    numHeads: heads, numKvHeads: 1, headDim: mla.qkRopeDim + mla.kvLoraRank,
    maxPositions: num(cfg, 'max_position_embeddings', file, 4096), norm: 'rms', normEps: num(cfg, 'rms_norm_eps', file, 1e-6),
    // rope_interleave (transformers' default): pairs (2i, 2i+1) rotate together.
    rope: { theta: num(cfg, 'rope_theta', file, 10000), style: cfg['rope_interleave'] === false ? 'neox' : 'interleaved', rotaryDim: mla.qkRopeDim, scaling },
    slidingWindow: 0, qkvBias: false, outputBias: false, qkNorm: false, mlp: 'gated-silu',
    moe: {
      numExperts: experts, topK: num(cfg, 'num_experts_per_tok', file), normTopK: cfg['norm_topk_prob'] !== false,
      expertIntermediateSize: expertSize, sharedExpertIntermediateSize: num(cfg, 'n_shared_experts', file, 0) * expertSize,
      grouped: { scoring, groups, topKGroups: num(cfg, 'topk_group', file, groups), scale: num(cfg, 'routed_scaling_factor', file, 1) },
      firstMoeLayer: num(cfg, 'first_k_dense_replace', file, 0),
    },
    tieEmbeddings: cfg['tie_word_embeddings'] === true, bosTokenId, eosTokenIds, attnScale, mla,
  };
}
