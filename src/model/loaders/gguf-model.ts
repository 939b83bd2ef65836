// GGUF metadata -> ModelConfig and GGUF tensor names -> ModelWeights for the Llama family.
// llama.cpp stores Llama's q/k rows permuted for interleaved RoPE; rather than permuting them back,
// the model runs interleaved RoPE on them, which computes the same attention.

import type { ModelConfig, MoeConfig } from '../config.js';
import { validateConfig, type Architecture } from '../config.js';
import { ModelLoadError } from '../../util/errors.js';
import type { LayerWeights, MlpWeights, ModelWeights } from '../weights.js';
import { toFloat32, type WeightTensor } from '../../kernels/tensor.js';
import { expectTensor, expectVector } from './tensor-source.js';
import type { GgufFile } from './gguf.js';

// GGUF architecture name -> ours (a llama GGUF with experts is Mixtral).
const GGUF_ARCHITECTURES: Record<string, Architecture> = { llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3', qwen2moe: 'qwen2_moe', qwen3moe: 'qwen3_moe' };

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
      scaling: scalingType === 'linear' ? { type: 'linear', factor: get('rope.scaling.factor') } : null,
    },
    slidingWindow: get('attention.sliding_window', 0), qkvBias: g.has('blk.0.attn_q.bias'), outputBias: false,
    qkNorm: g.has('blk.0.attn_q_norm.weight'), mlp: 'gated-silu', moe, tieEmbeddings: !g.has('output.weight'),
    bosTokenId: typeof bos === 'number' ? bos : null, eosTokenIds: typeof eos === 'number' ? [eos] : [],
  };
  validateConfig(config, g.path);
  return config;
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
      q: mat(`${p}.attn_q.weight`, qDim, H),
      k: mat(`${p}.attn_k.weight`, kvDim, H),
      v: mat(`${p}.attn_v.weight`, kvDim, H),
      o: mat(`${p}.attn_output.weight`, H, qDim),
      mlpNorm: vec(`${p}.ffn_norm.weight`, H),
    };
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
    if (!moe) {
      layer.mlp = {
        gate: mat(`${p}.ffn_gate.weight`, c.intermediateSize, H),
        up: mat(`${p}.ffn_up.weight`, c.intermediateSize, H),
        down: mat(`${p}.ffn_down.weight`, H, c.intermediateSize),
      };
    } else {
      const E = moe.numExperts;
      const I = moe.expertIntermediateSize;
      const gate = expectTensor(g, `${p}.ffn_gate_exps.weight`, [E, I, H]);
      const up = expectTensor(g, `${p}.ffn_up_exps.weight`, [E, I, H]);
      const down = expectTensor(g, `${p}.ffn_down_exps.weight`, [E, H, I]);
      const experts: MlpWeights[] = Array.from({ length: E }, (_, e) => ({ gate: expertSlice(gate, e), up: expertSlice(up, e), down: expertSlice(down, e) }));
      layer.moe = { router: mat(`${p}.ffn_gate_inp.weight`, E, H), experts };
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

