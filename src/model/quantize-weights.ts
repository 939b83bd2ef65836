// `--quantization <type>` (any of `tsllm quantize`'s types): the model's matrices (every layer's
// projections, the embedding and the output head) re-encoded at load, as llama-quantize would write
// them. Vectors (norms, biases) stay float32.

import type { Backend } from '../kernels/backend.js';
import type { WeightTensor } from '../kernels/tensor.js';
import { WEIGHT_FORMATS } from '../kernels/formats.js';
import { tensorType, type QuantTypeName } from './quantize/tensor-types.js';
import { convertWeight } from '../kernels/quantize.js';
import type { LayerWeights, MlpWeights, ModelWeights } from './weights.js';

export type Quantization = QuantTypeName;

const FLOAT_SOURCES = new Set<WeightTensor['dtype']>(['f32', 'f16', 'bf16']);

/**
 * Re-encodes the matrices in llama.cpp's mix for `type` (tensor-types.ts: Q4_K_M puts the output head
 * and some attn_v/ffn_down in Q6_K, ...), on `backend`'s kernels where it has them. A matrix whose
 * rows fit no block of its type, or that is quantized already, stays as it is.
 */
/** `onLayer` hears of each layer done (for a progress bar: a large model takes minutes). */
export function quantizeWeights(w: ModelWeights, type: QuantTypeName, backend: Backend, onLayer?: (done: number, total: number) => void): ModelWeights {
  const tied = w.lmHead === w.embed;
  const shape = { numLayers: w.layers.length, gqa: w.layers[0] ? w.layers[0].q.shape[0]! / w.layers[0].k.shape[0]! : 1, numExperts: w.layers[0]?.moe?.experts.length ?? 0, hasOutput: !tied };
  const q = (t: WeightTensor, ggufName: string): WeightTensor => {
    const to = tensorType(type, ggufName, t.shape, shape);
    const k = t.shape[t.shape.length - 1]!;
    // An already quantized matrix (gpt-oss's MXFP4 experts) stays as it is: re-quantizing only loses.
    if (!to || to === t.dtype || !FLOAT_SOURCES.has(t.dtype) || k % WEIGHT_FORMATS[to].blockSize !== 0) return t;
    return convertWeight(t, to, (dst, d, src, rows, cols) => backend.quantizeRows(dst, d, src, rows, cols));
  };
  const mlp = (m: MlpWeights, b: string, suffix = ''): MlpWeights => ({
    ...m,
    up: q(m.up, `${b}.ffn_up${suffix}.weight`),
    down: q(m.down, `${b}.ffn_down${suffix}.weight`),
    ...(m.gate ? { gate: q(m.gate, `${b}.ffn_gate${suffix}.weight`) } : {}),
  });
  const embed = q(w.embed, 'token_embd.weight');
  return {
    ...w,
    embed,
    lmHead: tied ? embed : q(w.lmHead, 'output.weight'),
    layers: w.layers.map((l, i) => {
      const b = `blk.${i}`;
      const layer: LayerWeights = {
        ...l,
        ...(l.mla
          // MLA's names as llama.cpp writes them; kv_b is dequantized to float32 per head when prepared.
          ? { q: q(l.q, `${b}.${l.mla.qB ? 'attn_q_a' : 'attn_q'}.weight`), k: q(l.k, `${b}.attn_kv_a_mqa.weight`), mla: { ...l.mla, ...(l.mla.qB ? { qB: q(l.mla.qB, `${b}.attn_q_b.weight`) } : {}) } }
          : { q: q(l.q, `${b}.attn_q.weight`), k: q(l.k, `${b}.attn_k.weight`), ...(l.v ? { v: q(l.v, `${b}.attn_v.weight`) } : {}) }),
        o: q(l.o, `${b}.attn_output.weight`),
        ...(l.mlp ? { mlp: mlp(l.mlp, b) } : {}),
        ...(l.moe ? { moe: { ...l.moe, experts: l.moe.experts.map((e) => e && mlp(e, b, '_exps')), ...(l.moe.shared ? { shared: mlp(l.moe.shared, b, '_shexp') } : {}) } } : {}),
      };
      onLayer?.(i + 1, w.layers.length);
      return layer;
    }),
  };
}
