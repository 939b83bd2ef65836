// The kernel interface every backend implements. Batch-first: activations are flat row-major
// Float32Arrays of `rows` tokens (tokens from many sequences side by side); weights are `[out, in]`
// in their storage format. Model code calls only these ops and never names a device.

import type { KVCacheDType } from './kv-cache-dtype.js';
import type { WeightDType, WeightTensor } from './tensor.js';

export type RopeStyle = 'neox' | 'interleaved';

/** Precomputed rotary frequencies for one model. */
export interface RopeSpec {
  style: RopeStyle;
  /** Rotated dimensions per head (<= headDim); the rest pass through. */
  rotaryDim: number;
  /** rotaryDim / 2 inverse frequencies, already scaled (llama3, linear). */
  invFreq: Float32Array;
  /** cos and sin are multiplied by this (LongRoPE's and YaRN's attention factor); 1 when absent. */
  attentionFactor?: number;
}

/** One sequence's slice of a flat attention batch (vLLM's varlen layout). */
export interface AttentionSeq {
  /** First row of this sequence's queries in the flat batch. */
  queryStart: number;
  /** Number of new tokens (queries) of this sequence in the batch. */
  queryLen: number;
  /** Tokens in the cache after this step, new ones included; query i sits at position contextLen - queryLen + i. */
  contextLen: number;
  /** Physical block of each logical block of this sequence. */
  blockTable: Int32Array;
}

export interface AttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  scale: number;
  /** Keys j visible to a query at position i satisfy i - slidingWindow < j <= i; 0 = no window. */
  slidingWindow: number;
  /** Scaled scores s become softcap * tanh(s / softcap) before the softmax (Gemma 2); 0 = none. */
  softcap?: number;
  /** [numHeads]: a logit per head that joins every softmax's denominator and no value (gpt-oss). */
  sinks?: Float32Array;
}

/**
 * One layer's paged cache: K and V each [numBlocks, numKvHeads, blockSize] head records of `dtype`
 * (layouts in kv-cache-dtype.ts).
 */
export interface LayerKV {
  k: Uint8Array;
  v: Uint8Array;
  dtype: KVCacheDType;
  blockSize: number;
}

/**
 * A matmul weight as a backend keeps it (its own layout, possibly in its own memory): the handle
 * prepareWeight returns and matmul takes. Only the backend that made it can read it.
 */
export interface PreparedWeight {
  /** [n, k] */
  readonly shape: readonly [number, number];
  readonly dtype: WeightDType;
  /** The backend read the original into memory of its own: the original is not read again. */
  readonly ownsCopy?: boolean;
}

/** Which rows each expert computes, and the weight of its output in each row's sum. */
export interface ExpertRouting {
  /** Per expert: the batch rows routed to it, ascending. */
  rows: Int32Array[];
  /** Per expert: the routing weight of each of its rows. */
  weights: Float64Array[];
}

/** DeepSeek's group-limited routing (model config GroupedRouting, with the layer's bias). */
export interface GroupedRoutingSpec {
  scoring: 'sigmoid' | 'softmax';
  groups: number;
  topKGroups: number;
  scale: number;
  /** [numExperts] added to the scores that choose, not to the weights. */
  bias?: Float32Array;
}

export interface Backend {
  readonly name: string;

  /**
   * A weight in the backend's own layout, made once when a model is built, so that no request pays
   * for converting it. Several same-format matrices of one width are prepared as one, their rows
   * concatenated in order (fused projections: q, k and v in one matmul).
   */
  prepareWeight(w: WeightTensor | readonly WeightTensor[]): PreparedWeight;

  /**
   * Hands the pages under `data` back to the OS once a copy of what is needed was made from it (a
   * mapped file's pages are read again if touched). Absent where the backend cannot.
   */
  releasePages?(data: Uint8Array): void;

  /** out[rows, n] = x[rows, k] @ w[n, k]^T (+ bias[n]) */
  matmul(out: Float32Array, x: Float32Array, w: PreparedWeight, rows: number, bias?: Float32Array): void;

  /** out[i, :] = x[ids[i], :] for each i: the rows a step samples from, the rows routed to an expert. */
  gatherRows(out: Float32Array, x: Float32Array, ids: Int32Array, dim: number): void;

  /** out[ids[i], :] += weights[i] * y[i, :] (in float64, then rounded); ids distinct. */
  scatterAddRows(out: Float32Array, y: Float32Array, ids: Int32Array, weights: Float64Array, dim: number): void;

  /** sigmoid(x[i]) in float64 (a gate's weights for scatterAddRows). */
  sigmoid(x: Float32Array, n: number): Float64Array;

  /**
   * Mixture-of-experts routing of logits[rows, numExperts]: softmax over all experts, the topK largest
   * (ties to the lower index, as torch.topk), renormalized to sum 1 when normTopK; with `grouped`,
   * DeepSeek-V3's sigmoid routing instead (reference/expert-routing.ts).
   */
  routeExperts(logits: Float32Array, rows: number, numExperts: number, topK: number, normTopK: boolean, grouped?: GroupedRoutingSpec): ExpertRouting;

  /**
   * Float32 rows src[rows, k] written into `dst` in `dtype`'s storage layout, rounded as llama.cpp's
   * reference quantizers round (quantize.ts is the specification): `--quantization` at load.
   */
  quantizeRows(dst: Uint8Array, dtype: WeightDType, src: Float32Array, rows: number, k: number): void;

  /** out[rows, dim] = x / rms(x) * gain */
  rmsNorm(out: Float32Array, x: Float32Array, gain: Float32Array, rows: number, dim: number, eps: number): void;

  /** out[rows, dim] = (x - mean) / std * gain + bias */
  layerNorm(out: Float32Array, x: Float32Array, gain: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number): void;

  /** In place on x[rows, numHeads, headDim], row r at position positions[r]. */
  rope(x: Float32Array, positions: Int32Array, rows: number, numHeads: number, headDim: number, spec: RopeSpec): void;

  /** out[n] = silu(gate[n]) * up[n] */
  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;

  /** In place: x[n] = gelu_tanh(x[n]) (GPT-2's gelu_new). */
  gelu(x: Float32Array, n: number): void;

  /** In place: x[n] = cap * tanh(x[n] / cap) (Gemma 2's final logits). */
  softcap(x: Float32Array, n: number, cap: number): void;

  /** out[n] = gelu_tanh(gate[n]) * up[n] (Gemma's GeGLU); out may be gate. */
  geluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;

  /** gpt-oss: out = (clamp(up, -limit, limit) + 1) * g * sigmoid(1.702 g) with g = min(gate, limit). */
  clampedSwiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number, limit: number): void;

  /** out[rows, dim] = table[ids[r], :] */
  embedding(out: Float32Array, table: WeightTensor, ids: Int32Array): void;

  /** x[n] += y[n] */
  add(x: Float32Array, y: Float32Array, n: number): void;

  /**
   * Writes k/v[rows, numKvHeads * headDim] into the cache slots slotMapping[r] (block * blockSize +
   * offset), quantizing to the cache's dtype; a negative slot writes nothing (padding rows).
   */
  writeKV(cache: LayerKV, k: Float32Array, v: Float32Array, slotMapping: Int32Array, rows: number, numKvHeads: number, headDim: number): void;

  /**
   * out[rows, numHeads * headDim] = causal softmax(q k^T * scale) v over each sequence's cached keys,
   * GQA (query head h reads KV head floor(h / (numHeads / numKvHeads))) and sliding window. Quantized
   * keys and values are read back tile by tile, never into a full-precision copy of the cache.
   */
  attention(out: Float32Array, q: Float32Array, cache: LayerKV, seqs: readonly AttentionSeq[], shape: AttentionShape): void;
}
