// llama.cpp's `deepseek2` GGUF (DeepSeek-V2/V3/R1): its MLA metadata and tensors. The converter keeps
// the rope rows in the checkpoint's interleaved order and writes kv_b either whole (attn_kv_b) or, in
// newer files, split per head as attn_k_b [heads, rank, nope] and attn_v_b [heads, v, rank].

import type { ModelConfig } from '../config.js';
import { ModelLoadError } from '../../util/errors.js';
import { toFloat32, weightFromF32 } from '../../kernels/tensor.js';
import type { LayerWeights, MlaWeights } from '../weights.js';
import { expectTensor, expectVector } from './tensor-source.js';
import type { GgufFile } from './gguf.js';

type Get = (key: string, fallback?: number) => number;

// llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE_*.
const GATING_SOFTMAX = 1, GATING_SIGMOID = 2;

export function deepseek2Config(base: ModelConfig, g: GgufFile, get: Get): ModelConfig {
  const rope = get('rope.dimension_count');
  const keyLength = get('attention.key_length');
  const mla = {
    qLoraRank: get('attention.q_lora_rank', 0), kvLoraRank: get('attention.kv_lora_rank'),
    qkNopeDim: keyLength - rope, qkRopeDim: rope, vHeadDim: get('attention.value_length'),
  };
  // DeepSeek-V2 files carry no gating key: softmax.
  const gating = get('expert_gating_func', GATING_SOFTMAX);
  if (gating !== GATING_SIGMOID && gating !== GATING_SOFTMAX) throw new ModelLoadError(g.path, `unknown deepseek2 expert_gating_func ${gating} (1 softmax, 2 sigmoid)`);
  const expertSize = get('expert_feed_forward_length');
  const groups = get('expert_group_count', 1);
  // llama.cpp: the rope's own YaRN magnitude is cancelled and the softmax scale carries
  // (1 + yarn_log_multiplier ln(factor))^2, transformers' mscale_all_dim rule.
  const yarn = g.meta('deepseek2.rope.scaling.type') === 'yarn';
  const factor = yarn ? get('rope.scaling.factor') : 1;
  const m = 1 + get('rope.scaling.yarn_log_multiplier', 0) * Math.log(factor);
  return {
    ...base,
    architecture: 'deepseek_v3', numKvHeads: 1, headDim: rope + mla.kvLoraRank, mla,
    attnScale: (keyLength ** -0.5) * m * m,
    rope: {
      theta: get('rope.freq_base', 10000), style: 'interleaved', rotaryDim: rope,
      scaling: yarn ? {
        type: 'yarn', factor, originalMaxPositions: get('rope.scaling.original_context_length'), betaFast: 32, betaSlow: 1, truncate: true, attentionFactor: 1,
      } : null,
    },
    moe: {
      numExperts: get('expert_count'), topK: get('expert_used_count'), normTopK: g.meta('deepseek2.expert_weights_norm') === true,
      expertIntermediateSize: expertSize, sharedExpertIntermediateSize: get('expert_shared_count', 0) * expertSize,
      grouped: { scoring: gating === GATING_SIGMOID ? 'sigmoid' : 'softmax', groups, topKGroups: get('expert_group_used_count', groups), scale: get('expert_weights_scale', 1) },
      firstMoeLayer: get('leading_dense_block_count', 0),
    },
  };
}

export function deepseek2Attention(g: GgufFile, p: string, c: ModelConfig): Pick<LayerWeights, 'q' | 'k' | 'mla'> {
  const m = c.mla!;
  const H = c.hiddenSize, heads = c.numHeads, qk = m.qkNopeDim + m.qkRopeDim;
  const mat = (name: string, rows: number, cols: number) => expectTensor(g, `${p}.${name}.weight`, [rows, cols]);
  const mla: MlaWeights = {
    kvANorm: expectVector(g, `${p}.attn_kv_a_norm.weight`, m.kvLoraRank),
    kvB: g.has(`${p}.attn_kv_b.weight`) ? mat('attn_kv_b', heads * (m.qkNopeDim + m.vHeadDim), m.kvLoraRank) : joinKvB(g, p, c),
    headShape: { heads, nope: m.qkNopeDim, v: m.vHeadDim },
  };
  const k = mat('attn_kv_a_mqa', m.kvLoraRank + m.qkRopeDim, H);
  if (!m.qLoraRank) return { q: mat('attn_q', heads * qk, H), k, mla };
  return {
    q: mat('attn_q_a', m.qLoraRank, H), k,
    mla: { ...mla, qANorm: expectVector(g, `${p}.attn_q_a_norm.weight`, m.qLoraRank), qB: mat('attn_q_b', heads * qk, m.qLoraRank) },
  };
}

// attn_k_b [heads, rank, nope] and attn_v_b [heads, v, rank] back into kv_b's rows (per head: nope
// key rows, then v value rows, over the latent).
function joinKvB(g: GgufFile, p: string, c: ModelConfig): MlaWeights['kvB'] {
  const { kvLoraRank: rank, qkNopeDim: nope, vHeadDim: v } = c.mla!;
  const heads = c.numHeads;
  if (!g.has(`${p}.attn_k_b.weight`)) throw new ModelLoadError(g.path, `missing tensor "${p}.attn_kv_b.weight" (or attn_k_b and attn_v_b)`);
  const kb = toFloat32(expectTensor(g, `${p}.attn_k_b.weight`, [heads, rank, nope]));
  const vb = toFloat32(expectTensor(g, `${p}.attn_v_b.weight`, [heads, v, rank]));
  const out = new Float32Array(heads * (nope + v) * rank);
  for (let h = 0; h < heads; h++) {
    const base = h * (nope + v) * rank;
    for (let d = 0; d < nope; d++) for (let r = 0; r < rank; r++) out[base + d * rank + r] = kb[(h * rank + r) * nope + d]!;
    out.set(vb.subarray(h * v * rank, (h + 1) * v * rank), base + nope * rank);
  }
  return weightFromF32(out, [heads * (nope + v), rank]);
}
