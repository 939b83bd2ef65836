// GGUF metadata -> ModelConfig and GGUF tensor names -> ModelWeights for the Llama family, Gemma 2/3,
// Phi-3 and DeepSeek (gguf-deepseek.ts), as llama.cpp's converter writes them. llama.cpp stores Llama's q/k rows permuted for
// interleaved RoPE; rather than permuting them back, the model runs interleaved RoPE on them, which
// computes the same attention. Gemma's (1 + w) norm gains are already folded by the converter.

import type { ModelConfig, MoeConfig } from '../config.js';
import { validateConfig, type Architecture } from '../config.js';
import { ModelLoadError } from '../../util/errors.js';
import type { LayerWeights, MlpWeights, ModelWeights } from '../weights.js';
import { toFloat32, type WeightTensor } from '../../kernels/tensor.js';
import { expectTensor, expectVector, rowSlice } from './tensor-source.js';
import type { GgufFile } from './gguf.js';
import { deepseek2Attention, deepseek2Config } from './gguf-deepseek.js';

// GGUF architecture name -> ours (a llama GGUF with experts is Mixtral).
const GGUF_ARCHITECTURES: Record<string, Architecture> = {
  llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3', qwen2moe: 'qwen2_moe', qwen3moe: 'qwen3_moe', gemma2: 'gemma2', gemma3: 'gemma3_text', phi3: 'phi3',
  deepseek2: 'deepseek_v3',
};

export function ggufConfig(g: GgufFile): ModelConfig {
  const arch = g.meta('general.architecture');
  if (typeof arch !== 'string') throw new ModelLoadError(g.path, 'missing general.architecture');
  if (!(arch in GGUF_ARCHITECTURES)) {
    throw new ModelLoadError(g.path, `unknown GGUF architecture "${arch}"; supported: ${Object.keys(GGUF_ARCHITECTURES).join(', ')}`);
  }
  const get = (key: string, fallback?: number): number => {
    const v = g.meta(`${arch}.${key}`);
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (fallback !== undefined) return fallback;
    throw new ModelLoadError(g.path, `missing metadata ${arch}.${key}`);
  };
  const hidden = get('embedding_length');
  const heads = get('attention.head_count');
  const headDim = get('attention.key_length', hidden / heads);
  const vocab = g.tensors.get('token_embd.weight')?.shape[0];
  if (!vocab) throw new ModelLoadError(g.path, 'missing tensor "token_embd.weight"');

  const experts = get('expert_count', 0);
  let moe: MoeConfig | null = null;
  if (experts > 0) {
    moe = {
      numExperts: experts, topK: get('expert_used_count'),
      // llama.cpp: Mixtral and Qwen3-MoE renormalize; Qwen2-MoE does not.
      normTopK: arch !== 'qwen2moe',
      expertIntermediateSize: get('expert_feed_forward_length', get('feed_forward_length', 0)),
      sharedExpertIntermediateSize: get('expert_shared_feed_forward_length', 0),
    };
  }
  const eos = g.meta('tokenizer.ggml.eos_token_id');
  const bos = g.meta('tokenizer.ggml.bos_token_id');
  const scalingType = g.meta(`${arch}.rope.scaling.type`);
  const config: ModelConfig = {
    architecture: arch === 'llama' && moe ? 'mixtral' : GGUF_ARCHITECTURES[arch]!,
    vocabSize: vocab, hiddenSize: hidden, intermediateSize: get('feed_forward_length', 0), numLayers: get('block_count'),
    numHeads: heads, numKvHeads: get('attention.head_count_kv', heads), headDim, maxPositions: get('context_length', 2048),
    norm: 'rms', normEps: get('attention.layer_norm_rms_epsilon', 1e-5),
    rope: {
      theta: get('rope.freq_base', 10000), style: arch === 'llama' ? 'interleaved' : 'neox', rotaryDim: get('rope.dimension_count', headDim),
      scaling: g.has('rope_freqs.weight')
        ? { type: 'freq-factors', factors: Array.from(toFloat32(g.get('rope_freqs.weight'))) }
        : scalingType === 'linear' ? { type: 'linear', factor: get('rope.scaling.factor') } : null,
    },
    slidingWindow: get('attention.sliding_window', 0), qkvBias: g.has('blk.0.attn_q.bias'), outputBias: false,
    qkNorm: g.has('blk.0.attn_q_norm.weight'), mlp: 'gated-silu', moe, tieEmbeddings: !g.has('output.weight'),
    bosTokenId: typeof bos === 'number' ? bos : null, eosTokenIds: typeof eos === 'number' ? [eos] : [],
  };
  const family = arch === 'deepseek2' ? deepseek2Config(config, g, get) : withGgufFamilyFields(config, g, arch, get);
  validateConfig(family, g.path);
  return family;
}

// What llama.cpp reads for Gemma 2/3 and Phi-3 beyond the Llama keys.
function withGgufFamilyFields(base: ModelConfig, g: GgufFile, arch: string, get: (key: string, fallback?: number) => number): ModelConfig {
  const c = { ...base };
  if (arch === 'phi3' && c.rope) {
    const original = get('rope.scaling.original_context_length', 0);
    if (g.has('rope_factors_long.weight') && original > 0) {
      const half = c.rope.rotaryDim / 2;
      const factors = (name: string) => Array.from(expectVector(g, name, half));
      c.rope = {
        ...c.rope,
        scaling: {
          type: 'longrope', shortFactor: factors('rope_factors_short.weight'), longFactor: factors('rope_factors_long.weight'),
          originalMaxPositions: original, attentionFactor: get('rope.scaling.attn_factor', 1),
        },
      };
    }
    return c;
  }
  if (arch !== 'gemma2' && arch !== 'gemma3') return c;
  c.mlp = 'gated-gelu';
  c.tieEmbeddings = !g.has('output.weight');
  c.embedScale = Math.fround(Math.sqrt(c.hiddenSize));
  c.sandwichNorms = true;
  // The converter writes no query scale: llama.cpp takes hidden/heads for the 27B models (46 layers
  // for Gemma 2, 62 for Gemma 3) and head_dim otherwise; attention.scale, where a file has it, wins.
  const big = c.numLayers === (arch === 'gemma2' ? 46 : 62);
  c.attnScale = get('attention.scale', (big ? c.hiddenSize / c.numHeads : c.headDim) ** -0.5);
  const attnCap = get('attn_logit_softcapping', 0), finalCap = get('final_logit_softcapping', 0);
  if (attnCap > 0) c.attnSoftcap = attnCap;
  if (finalCap > 0) c.finalSoftcap = finalCap;
  // llama.cpp: Gemma 2 alternates from a sliding first layer; Gemma 3 makes every 6th layer full
  // unless the file gives the pattern.
  const pattern = get('attention.sliding_window_pattern', arch === 'gemma2' ? 2 : 6);
  c.slidingLayers = Array.from({ length: c.numLayers }, (_, i) => (i + 1) % pattern !== 0);
  if (arch === 'gemma3' && c.rope) c.localRope = { ...c.rope, theta: get('rope.freq_base_swa', 10000), scaling: null };
  return c;
}

// q, k and v, from their own tensors or from Phi-3's fused attn_qkv (rows q | k | v).
function attentionProjections(g: GgufFile, p: string, qDim: number, kvDim: number, H: number): Pick<LayerWeights, 'q' | 'k' | 'v'> {
  if (g.has(`${p}.attn_qkv.weight`)) {
    const t = expectTensor(g, `${p}.attn_qkv.weight`, [qDim + 2 * kvDim, H]);
    return { q: rowSlice(t, 0, qDim), k: rowSlice(t, qDim, qDim + kvDim), v: rowSlice(t, qDim + kvDim, qDim + 2 * kvDim) };
  }
  return { q: expectTensor(g, `${p}.attn_q.weight`, [qDim, H]), k: expectTensor(g, `${p}.attn_k.weight`, [kvDim, H]), v: expectTensor(g, `${p}.attn_v.weight`, [kvDim, H]) };
}

/** Expert e of a [numExperts, rows, cols] tensor, sharing its memory. */
function expertSlice(t: WeightTensor, e: number): WeightTensor {
  const [n, rows, cols] = t.shape as [number, number, number];
  const bytes = t.data.length / n;
  return { dtype: t.dtype, shape: [rows, cols], data: t.data.subarray(e * bytes, (e + 1) * bytes) };
}

export function ggufWeights(c: ModelConfig, g: GgufFile): ModelWeights {
  const H = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const mat = (name: string, rows: number, cols: number) => expectTensor(g, name, [rows, cols]);
  const vec = (name: string, n: number) => expectVector(g, name, n);
  const embed = mat('token_embd.weight', c.vocabSize, H);

  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `blk.${i}`;
    const layer: LayerWeights = {
      attnNorm: vec(`${p}.attn_norm.weight`, H),
      ...(c.mla ? deepseek2Attention(g, p, c) : attentionProjections(g, p, qDim, kvDim, H)),
      o: mat(`${p}.attn_output.weight`, H, c.mla ? c.numHeads * c.mla.vHeadDim : qDim),
      mlpNorm: vec(`${p}.ffn_norm.weight`, H),
    };
    if (c.sandwichNorms) {
      layer.postAttnNorm = vec(`${p}.post_attention_norm.weight`, H);
      layer.postMlpNorm = vec(`${p}.post_ffw_norm.weight`, H);
    }
    if (c.qkvBias) {
      layer.qBias = vec(`${p}.attn_q.bias`, qDim);
      layer.kBias = vec(`${p}.attn_k.bias`, kvDim);
      layer.vBias = vec(`${p}.attn_v.bias`, kvDim);
    }
    if (c.qkNorm) {
      layer.qNorm = vec(`${p}.attn_q_norm.weight`, c.headDim);
      layer.kNorm = vec(`${p}.attn_k_norm.weight`, c.headDim);
    }
    const moe = c.moe;
    if (!moe || i < (moe.firstMoeLayer ?? 0)) {
      const I = c.intermediateSize;
      // Phi-3: ffn_up holds gate and up ([2 * inter, hidden], gate first) and there is no ffn_gate.
      const fused = !g.has(`${p}.ffn_gate.weight`) && g.has(`${p}.ffn_up.weight`) && g.tensors.get(`${p}.ffn_up.weight`)!.shape[0] === 2 * I;
      const gu = fused ? mat(`${p}.ffn_up.weight`, 2 * I, H) : null;
      layer.mlp = {
        gate: gu ? rowSlice(gu, 0, I) : mat(`${p}.ffn_gate.weight`, I, H),
        up: gu ? rowSlice(gu, I, 2 * I) : mat(`${p}.ffn_up.weight`, I, H),
        down: mat(`${p}.ffn_down.weight`, H, I),
      };
    } else {
      const E = moe.numExperts;
      const I = moe.expertIntermediateSize;
      const gate = expectTensor(g, `${p}.ffn_gate_exps.weight`, [E, I, H]);
      const up = expectTensor(g, `${p}.ffn_up_exps.weight`, [E, I, H]);
      const down = expectTensor(g, `${p}.ffn_down_exps.weight`, [E, H, I]);
      const experts: MlpWeights[] = Array.from({ length: E }, (_, e) => ({ gate: expertSlice(gate, e), up: expertSlice(up, e), down: expertSlice(down, e) }));
      layer.moe = { router: mat(`${p}.ffn_gate_inp.weight`, E, H), experts };
      if (g.has(`${p}.exp_probs_b.bias`)) layer.moe.scoreBias = vec(`${p}.exp_probs_b.bias`, E);
      if (moe.sharedExpertIntermediateSize > 0) {
        const S = moe.sharedExpertIntermediateSize;
        layer.moe.shared = { gate: mat(`${p}.ffn_gate_shexp.weight`, S, H), up: mat(`${p}.ffn_up_shexp.weight`, S, H), down: mat(`${p}.ffn_down_shexp.weight`, H, S) };
        if (g.has(`${p}.ffn_gate_inp_shexp.weight`)) {
          const sg = toFloat32(g.get(`${p}.ffn_gate_inp_shexp.weight`));
          layer.moe.sharedGate = { dtype: 'f32', shape: [1, H], data: new Uint8Array(sg.buffer, sg.byteOffset, sg.byteLength) };
        }
      }
    }
    layers.push(layer);
  }
  return {
    embed,
    layers,
    finalNorm: vec('output_norm.weight', H),
    lmHead: g.has('output.weight') ? mat('output.weight', c.vocabSize, H) : embed,
  };
}

