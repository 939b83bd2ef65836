// Sizes and work of a model, from its config alone: parameters (total, and active per token for MoE),
// weight bytes per storage format, KV-cache bytes per token, and FLOPs per token.

import { KV_CACHE_DTYPES, kvBytesPerToken as kvCacheBytesPerToken, type KVCacheDType } from '../kernels/kv-cache-dtype.js';
import type { ModelConfig } from '../model/config.js';
import { WEIGHT_DTYPES, WEIGHT_FORMATS, type WeightDType } from '../kernels/formats.js';

/**
 * Bytes per parameter: every weight format the engine reads, block formats with their scales (q8_0 =
 * 34 bytes per 32 weights, q4_k = 144 per 256), and the plain fp8/int8/int4 widths.
 */
export const DTYPE_BYTES: Record<CalcDtype, number> = {
  ...(Object.fromEntries(WEIGHT_DTYPES.map((d) => [d, WEIGHT_FORMATS[d].blockBytes / WEIGHT_FORMATS[d].blockSize])) as Record<WeightDType, number>),
  fp8: 1, int8: 1, int4: 0.5,
};
export type CalcDtype = WeightDType | 'fp8' | 'int8' | 'int4';
/** The engine's KV-cache formats, at their real record sizes (scales included). */
export const KV_DTYPES = KV_CACHE_DTYPES;
export type KvDtype = KVCacheDType;

export interface ParamCount {
  total: number;
  /** Parameters one token's forward pass multiplies with (MoE: only the routed experts). */
  activePerToken: number;
  embedding: number;
  lmHead: number;
  /** All layers, attention + MLP/experts + norms. */
  layers: number;
}

export function countParams(c: ModelConfig): ParamCount {
  const H = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const attn = c.mla ? latentAttentionParams(c)
    : H * qDim + 2 * H * kvDim + qDim * H + (c.qkvBias ? qDim + 2 * kvDim : 0) + (c.outputBias ? H : 0) + (c.qkNorm ? 2 * c.headDim : 0);
  const mlpOf = (inter: number) => (c.mlp !== 'gelu' ? 3 * H * inter : 2 * H * inter + (c.outputBias ? inter + H : 0));
  const norms = (c.norm === 'layer' ? 4 : 2) * H;
  // Summed over layers: DeepSeek's first layers are dense.
  let mlpTotal: number;
  let mlpActive: number;
  if (c.moe) {
    const m = c.moe;
    const router = H * m.numExperts;
    // A shared expert has a sigmoid gate (H) unless the model weights it by 1 (DeepSeek).
    const shared = m.sharedExpertIntermediateSize > 0 ? mlpOf(m.sharedExpertIntermediateSize) + (m.grouped ? 0 : H) : 0;
    const dense = m.firstMoeLayer ?? 0;
    const moeLayers = c.numLayers - dense;
    mlpTotal = moeLayers * (m.numExperts * mlpOf(m.expertIntermediateSize) + router + shared) + dense * mlpOf(c.intermediateSize);
    mlpActive = moeLayers * (m.topK * mlpOf(m.expertIntermediateSize) + router + shared) + dense * mlpOf(c.intermediateSize);
  } else {
    mlpTotal = mlpActive = c.numLayers * mlpOf(c.intermediateSize);
  }
  const embedding = c.vocabSize * H + (c.rope ? 0 : c.maxPositions * H);
  const lmHead = c.tieEmbeddings ? 0 : c.vocabSize * H;
  const finalNorm = (c.norm === 'layer' ? 2 : 1) * H;
  const layers = c.numLayers * (attn + norms) + mlpTotal;
  const activeLayers = c.numLayers * (attn + norms) + mlpActive;
  const total = embedding + layers + lmHead + finalNorm;
  return {
    total,
    // The seed's convention, 2 x parameters per token, counts every parameter once; MoE counts only
    // the experts a token is routed to.
    activePerToken: total - (layers - activeLayers),
    embedding,
    lmHead,
    layers,
  };
}

// MLA: q (through its low rank and norm), kv_a to the latent and rope key, the latent's norm, kv_b to
// every head's key and value, o.
function latentAttentionParams(c: ModelConfig): number {
  const m = c.mla!;
  const H = c.hiddenSize, qk = m.qkNopeDim + m.qkRopeDim;
  const q = m.qLoraRank ? H * m.qLoraRank + m.qLoraRank + m.qLoraRank * c.numHeads * qk : H * c.numHeads * qk;
  const kv = H * (m.kvLoraRank + m.qkRopeDim) + m.kvLoraRank + m.kvLoraRank * c.numHeads * (m.qkNopeDim + m.vHeadDim);
  return q + kv + c.numHeads * m.vHeadDim * H;
}

/**
 * Bytes of K and V for one token, all layers: 2 x layers x kv_heads x the dtype's head record; MLA
 * keeps one latent record (rope key + latent) per layer.
 */
export function kvBytesPerToken(c: ModelConfig, kvDtype: KvDtype): number {
  return kvCacheBytesPerToken(kvDtype, c.numLayers, c.numKvHeads, c.headDim, c.mla ? 1 : 2);
}

/**
 * FLOPs for one token at a given context length: 2 x active parameters for the matmuls, plus attention
 * (q.k and p.v over `context` keys: 4 x layers x heads x head_dim x context).
 */
export function flopsPerToken(c: ModelConfig, context: number): number {
  const attnContext = c.slidingWindow > 0 ? Math.min(context, c.slidingWindow) : context;
  return 2 * countParams(c).activePerToken + 4 * c.numLayers * c.numHeads * c.headDim * attnContext;
}

/**
 * Activation memory for a forward pass over `tokens` tokens at float32, counting the widest
 * simultaneous buffers of one layer (residual, normed input, q/k/v, attention output, MLP gate and up):
 * an estimate, since buffers are freed layer by layer.
 */
export function activationBytes(c: ModelConfig, tokens: number): number {
  const inter = c.moe ? c.moe.expertIntermediateSize * c.moe.topK : c.intermediateSize;
  const perToken = 3 * c.hiddenSize + (c.numHeads + 2 * c.numKvHeads) * c.headDim + c.numHeads * c.headDim + 2 * inter;
  return 4 * tokens * perToken + 4 * c.vocabSize;
}
