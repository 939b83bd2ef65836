// Multi-head latent attention (DeepSeek-V2/V3) in its absorbed form: the cache holds, per token, one
// record [rotated key part | normalized latent] shared by every head, and the kernels run it as
// attention with one KV head whose values are its keys. Each head's no-RoPE query is mapped into the
// latent space first (q_nope . W_UK = (W_UK^T q_nope) . latent), and each head's attention over
// latents is mapped to its values after (W_UV), so no per-head key or value is ever stored.

import type { AttentionShape, Backend, LayerKV } from '../../kernels/backend.js';
import type { ModelConfig } from '../config.js';
import type { LayerWeights } from '../weights.js';
import type { ActivationBuffers } from './activation-buffers.js';
import type { ForwardBatch } from './decoder.js';
import { applyRope, type LayerAttention } from './layer-attention.js';
import type { PreparedLayer } from './prepared-weights.js';

export interface LatentAttentionContext {
  be: Backend;
  buffers: ActivationBuffers;
  config: ModelConfig;
  /** Runs the layer's fused input projections into `outs` (CausalLM.project). */
  project: (x: Float32Array, pw: PreparedLayer['qkv'], rows: number, outs: Float32Array[]) => void;
}

/** Returns the attention output [rows, hidden], after o_proj. */
export function latentAttention(
  ctx: LatentAttentionContext, x: Float32Array, w: LayerWeights, pw: PreparedLayer, batch: ForwardBatch,
  cache: LayerKV, shape: AttentionShape, spec: LayerAttention, rows: number,
): Float32Array {
  const { be, buffers: buf, config: c } = ctx;
  const m = c.mla!;
  const heads = c.numHeads, D = c.headDim, rank = m.kvLoraRank, R = m.qkRopeDim, nope = m.qkNopeDim, qk = nope + R;

  // x -> q side [rows, qLoraRank or heads * qk] and [latent | rope key] [rows, rank + R].
  const qa = buf.get('mlaQa', rows * (m.qLoraRank || heads * qk));
  const kva = buf.get('mlaKva', rows * (rank + R));
  ctx.project(x, pw.qkv, rows, [qa, kva]);
  let q = qa;
  if (m.qLoraRank) {
    be.rmsNorm(qa, qa, w.mla!.qANorm!, rows, m.qLoraRank, c.normEps);
    q = buf.get('mlaQ', rows * heads * qk);
    be.matmul(q, qa, pw.mla!.qB!, rows);
  }

  // Key records [rows, D] = [rope key | rmsNorm(latent)].
  const keys = buf.get('mlaKeys', rows * D);
  const latent = buf.get('mlaLatent', rows * rank);
  for (let r = 0; r < rows; r++) {
    latent.set(kva.subarray(r * (rank + R), r * (rank + R) + rank), r * rank);
    keys.set(kva.subarray(r * (rank + R) + rank, (r + 1) * (rank + R)), r * D);
  }
  be.rmsNorm(latent, latent, w.mla!.kvANorm, rows, rank, c.normEps);
  for (let r = 0; r < rows; r++) keys.set(latent.subarray(r * rank, (r + 1) * rank), r * D + R);

  // Query records [rows, heads, D] = [rope query | W_UK^T q_nope].
  const queries = buf.get('mlaQueries', rows * heads * D);
  const qNope = buf.get('mlaQNope', rows * nope);
  const qLatent = buf.get('mlaQLatent', rows * rank);
  for (let h = 0; h < heads; h++) {
    for (let r = 0; r < rows; r++) qNope.set(q.subarray((r * heads + h) * qk, (r * heads + h) * qk + nope), r * nope);
    be.matmul(qLatent, qNope, pw.mla!.keyUp[h]!, rows);
    for (let r = 0; r < rows; r++) {
      const at = (r * heads + h) * D;
      queries.set(q.subarray((r * heads + h) * qk + nope, (r * heads + h + 1) * qk), at);
      queries.set(qLatent.subarray(r * rank, (r + 1) * rank), at + R);
    }
  }

  if (spec.rope) applyRope(be, spec.rope, queries, keys, batch, c);
  // K and V are one pool (kv-cache-storage.ts): the values are the keys.
  be.writeKV(cache, keys, keys, batch.slotMapping, rows, 1, D);
  const attn = buf.get('mlaAttn', rows * heads * D);
  be.attention(attn, queries, cache, batch.seqs, shape);

  // Per head: the latent part of its output -> its values [rows, v], laid out [rows, heads * v].
  const V = m.vHeadDim;
  const values = buf.get('mlaValues', rows * heads * V);
  const oLatent = buf.get('mlaOLatent', rows * rank);
  const vh = buf.get('mlaVHead', rows * V);
  for (let h = 0; h < heads; h++) {
    for (let r = 0; r < rows; r++) oLatent.set(attn.subarray((r * heads + h) * D + R, (r * heads + h + 1) * D), r * rank);
    be.matmul(vh, oLatent, pw.mla!.valueUp[h]!, rows);
    for (let r = 0; r < rows; r++) values.set(vh.subarray(r * V, (r + 1) * V), (r * heads + h) * V);
  }
  const out = buf.get('attnOut', rows * c.hiddenSize);
  be.matmul(out, values, pw.o, rows, w.oBias);
  return out;
}
