// Architecture shapes for --load-format dummy (random weights, as vLLM offers for benchmarking) and
// the built-in demo model. The shapes are the public configs of those models.

import type { ModelConfig } from './config.js';
import { deepseekV3Config } from './deepseek-config.js';

const llamaLike = (o: Partial<ModelConfig> & Pick<ModelConfig, 'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads'>): ModelConfig => ({
  architecture: 'llama', headDim: o.hiddenSize / o.numHeads, maxPositions: 2048, norm: 'rms', normEps: 1e-5,
  rope: { theta: 10000, style: 'neox', rotaryDim: o.hiddenSize / o.numHeads, scaling: null }, slidingWindow: 0,
  qkvBias: false, outputBias: false, qkNorm: false, mlp: 'gated-silu', moe: null, tieEmbeddings: false,
  bosTokenId: 1, eosTokenIds: [2], ...o,
});

export const PRESETS: Record<string, () => ModelConfig> = {
  // Small enough to answer instantly in pure TypeScript; vocabulary = the demo byte tokenizer's.
  demo: () => llamaLike({ vocabSize: 258, hiddenSize: 128, intermediateSize: 344, numLayers: 4, numHeads: 4, numKvHeads: 2, bosTokenId: 256, eosTokenIds: [257], tieEmbeddings: true }),
  'tinyllama-1.1b': () => llamaLike({ vocabSize: 32000, hiddenSize: 2048, intermediateSize: 5632, numLayers: 22, numHeads: 32, numKvHeads: 4 }),
  'llama-3.2-1b': () => {
    const c = llamaLike({ vocabSize: 128256, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, tieEmbeddings: true, maxPositions: 131072, bosTokenId: 128000, eosTokenIds: [128001] });
    c.rope = { theta: 500000, style: 'neox', rotaryDim: 64, scaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } };
    return c;
  },
  // Full-size shapes for the inference calculator (tsllm calc --preset); their dummy weights are large.
  'llama-2-7b': () => llamaLike({ vocabSize: 32000, hiddenSize: 4096, intermediateSize: 11008, numLayers: 32, numHeads: 32, numKvHeads: 32, maxPositions: 4096 }),
  'llama-3.1-8b': () => {
    const c = llamaLike({ vocabSize: 128256, hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8, maxPositions: 131072, bosTokenId: 128000, eosTokenIds: [128001] });
    c.rope = { theta: 500000, style: 'neox', rotaryDim: 128, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } };
    return c;
  },
  // Gemma 2/3 and Phi-3.5 shapes from their public configs (Phi-3.5's LongRoPE factors change no shape
  // and are left out).
  'gemma-2-2b': () => ({
    ...llamaLike({ vocabSize: 256000, hiddenSize: 2304, intermediateSize: 9216, numLayers: 26, numHeads: 8, numKvHeads: 4, headDim: 256, tieEmbeddings: true, maxPositions: 8192, bosTokenId: 2, eosTokenIds: [1, 107] }),
    architecture: 'gemma2', normEps: 1e-6, mlp: 'gated-gelu', slidingWindow: 4096, rope: { theta: 10000, style: 'neox', rotaryDim: 256, scaling: null },
    embedScale: Math.fround(Math.sqrt(2304)), attnScale: 1 / 16, attnSoftcap: 50, finalSoftcap: 30, sandwichNorms: true,
    slidingLayers: Array.from({ length: 26 }, (_, i) => i % 2 === 0),
  }),
  'gemma-3-1b': () => ({
    ...llamaLike({ vocabSize: 262144, hiddenSize: 1152, intermediateSize: 6912, numLayers: 26, numHeads: 4, numKvHeads: 1, headDim: 256, tieEmbeddings: true, maxPositions: 32768, bosTokenId: 2, eosTokenIds: [1, 106] }),
    architecture: 'gemma3_text', normEps: 1e-6, mlp: 'gated-gelu', slidingWindow: 512, qkNorm: true, rope: { theta: 1000000, style: 'neox', rotaryDim: 256, scaling: null },
    localRope: { theta: 10000, style: 'neox', rotaryDim: 256, scaling: null },
    embedScale: Math.fround(Math.sqrt(1152)), attnScale: 1 / 16, sandwichNorms: true,
    slidingLayers: Array.from({ length: 26 }, (_, i) => (i + 1) % 6 !== 0),
  }),
  'phi-3.5-mini': () => ({
    ...llamaLike({ vocabSize: 32064, hiddenSize: 3072, intermediateSize: 8192, numLayers: 32, numHeads: 32, numKvHeads: 32, maxPositions: 131072, bosTokenId: 1, eosTokenIds: [32000, 32007] }),
    architecture: 'phi3', rope: { theta: 10000, style: 'neox', rotaryDim: 96, scaling: null },
  }),
  'gpt-oss-20b': () => ({
    ...llamaLike({ vocabSize: 201088, hiddenSize: 2880, intermediateSize: 2880, numLayers: 24, numHeads: 64, numKvHeads: 8, headDim: 64, maxPositions: 131072, bosTokenId: 199998, eosTokenIds: [200002, 199999] }),
    architecture: 'gpt_oss', qkvBias: true, slidingWindow: 128, attnSinks: true, mlp: 'gated-swiglu-oai', swigluLimit: 7,
    slidingLayers: Array.from({ length: 24 }, (_, i) => i % 2 === 0),
    moe: { numExperts: 32, topK: 4, normTopK: true, expertIntermediateSize: 2880, sharedExpertIntermediateSize: 0 },
    rope: { theta: 150000, style: 'neox', rotaryDim: 64, scaling: { type: 'yarn', factor: 32, originalMaxPositions: 4096, betaFast: 32, betaSlow: 1, truncate: false, attentionFactor: 0.1 * Math.log(32) + 1 } },
  }),
  // DeepSeek's public configs, read by the same reader as a config.json.
  'deepseek-v2-lite': () => deepseekV3Config({
    vocab_size: 102400, hidden_size: 2048, intermediate_size: 10944, moe_intermediate_size: 1408, num_hidden_layers: 27,
    num_attention_heads: 16, q_lora_rank: null, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128,
    n_routed_experts: 64, n_shared_experts: 2, num_experts_per_tok: 6, n_group: 1, topk_group: 1, first_k_dense_replace: 1,
    routed_scaling_factor: 1, scoring_func: 'softmax', norm_topk_prob: false, max_position_embeddings: 163840, rope_theta: 10000,
    rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, mscale: 0.707, mscale_all_dim: 0.707 },
  }, 'preset deepseek-v2-lite', 100000, [100001]),
  'deepseek-v3': () => deepseekV3Config({
    vocab_size: 129280, hidden_size: 7168, intermediate_size: 18432, moe_intermediate_size: 2048, num_hidden_layers: 61,
    num_attention_heads: 128, q_lora_rank: 1536, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128,
    n_routed_experts: 256, n_shared_experts: 1, num_experts_per_tok: 8, n_group: 8, topk_group: 4, first_k_dense_replace: 3,
    routed_scaling_factor: 2.5, scoring_func: 'sigmoid', norm_topk_prob: true, max_position_embeddings: 163840, rope_theta: 10000,
    rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
  }, 'preset deepseek-v3', 0, [1]),
  'qwen2.5-0.5b': () => ({
    ...llamaLike({ vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2, tieEmbeddings: true, maxPositions: 32768, bosTokenId: null, eosTokenIds: [151643] }),
    architecture: 'qwen2', normEps: 1e-6, qkvBias: true, rope: { theta: 1000000, style: 'neox', rotaryDim: 64, scaling: null },
  }),
};
