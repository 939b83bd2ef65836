// Hugging Face tensor names -> ModelWeights, with every shape checked against the config.

import type { ModelConfig } from '../config.js';
import { ModelLoadError } from '../../util/errors.js';
import type { LayerWeights, MlpWeights, ModelWeights, MoeWeights } from '../weights.js';
import { expectTensor, expectVector, rowSlice, transpose2d, type TensorSource } from './tensor-source.js';
import { gptOssExperts } from './gpt-oss-experts.js';

export function assembleHfWeights(c: ModelConfig, src: TensorSource): ModelWeights {
  return c.architecture === 'gpt2' ? gpt2Weights(c, src) : llamaFamilyWeights(c, src);
}

function llamaFamilyWeights(c: ModelConfig, src: TensorSource): ModelWeights {
  const H = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const mat = (name: string, rows: number, cols: number) => expectTensor(src, name, [rows, cols]);
  const isGemma = c.architecture === 'gemma2' || c.architecture === 'gemma3_text';
  // Gemma's RMSNorm multiplies by (1 + w) in float32; folded here, as llama.cpp's converter does.
  const gain = (name: string, n: number) => (isGemma ? Float32Array.from(expectVector(src, name, n), (w) => 1 + w) : expectVector(src, name, n));
  const vec = (name: string, n: number) => expectVector(src, name, n);
  const gated = (p: string, inter: string[], size: number): MlpWeights => {
    // Phi-3 stores gate and up as one [2 * inter, hidden] matrix, gate first.
    if (src.has(`${p}.gate_up_proj.weight`)) {
      const gu = mat(`${p}.gate_up_proj.weight`, 2 * size, H);
      return { gate: rowSlice(gu, 0, size), up: rowSlice(gu, size, 2 * size), down: mat(`${p}.${inter[2]}.weight`, H, size) };
    }
    return { gate: mat(`${p}.${inter[0]}.weight`, size, H), up: mat(`${p}.${inter[1]}.weight`, size, H), down: mat(`${p}.${inter[2]}.weight`, H, size) };
  };
  const PROJ = ['gate_proj', 'up_proj', 'down_proj'];

  const embed = mat('model.embed_tokens.weight', c.vocabSize, H);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    const layer: LayerWeights = {
      attnNorm: gain(`${p}.input_layernorm.weight`, H),
      ...(c.mla ? latentAttention(src, `${p}.self_attn`, c) : qkv(src, `${p}.self_attn`, qDim, kvDim, H)),
      o: mat(`${p}.self_attn.o_proj.weight`, H, c.mla ? c.numHeads * c.mla.vHeadDim : qDim),
      // Gemma's post_attention_layernorm is a sandwich norm; its MLP input norm is pre_feedforward_layernorm.
      mlpNorm: gain(`${p}.${isGemma ? 'pre_feedforward_layernorm' : 'post_attention_layernorm'}.weight`, H),
    };
    if (isGemma) {
      layer.postAttnNorm = gain(`${p}.post_attention_layernorm.weight`, H);
      layer.postMlpNorm = gain(`${p}.post_feedforward_layernorm.weight`, H);
    }
    if (c.qkvBias && src.has(`${p}.self_attn.o_proj.bias`)) layer.oBias = vec(`${p}.self_attn.o_proj.bias`, H);
    if (c.attnSinks) layer.sinks = vec(`${p}.self_attn.sinks`, c.numHeads);
    if (c.qkvBias) {
      layer.qBias = vec(`${p}.self_attn.q_proj.bias`, qDim);
      layer.kBias = vec(`${p}.self_attn.k_proj.bias`, kvDim);
      layer.vBias = vec(`${p}.self_attn.v_proj.bias`, kvDim);
    }
    if (c.qkNorm) {
      layer.qNorm = gain(`${p}.self_attn.q_norm.weight`, c.headDim);
      layer.kNorm = gain(`${p}.self_attn.k_norm.weight`, c.headDim);
    }
    const moe = c.moe;
    if (!moe || i < (moe.firstMoeLayer ?? 0)) {
      layer.mlp = gated(`${p}.mlp`, PROJ, c.intermediateSize);
    } else if (c.architecture === 'gpt_oss') {
      layer.moe = {
        router: mat(`${p}.mlp.router.weight`, moe.numExperts, H), routerBias: vec(`${p}.mlp.router.bias`, moe.numExperts),
        experts: gptOssExperts(src, `${p}.mlp.experts`, moe.numExperts, H, moe.expertIntermediateSize),
      };
    } else if (c.architecture === 'mixtral') {
      layer.moe = {
        router: mat(`${p}.block_sparse_moe.gate.weight`, moe.numExperts, H),
        experts: Array.from({ length: moe.numExperts }, (_, e) =>
          gated(`${p}.block_sparse_moe.experts.${e}`, ['w1', 'w3', 'w2'], moe.expertIntermediateSize)),
      };
    } else {
      const m: MoeWeights = {
        router: mat(`${p}.mlp.gate.weight`, moe.numExperts, H),
        experts: Array.from({ length: moe.numExperts }, (_, e) => gated(`${p}.mlp.experts.${e}`, PROJ, moe.expertIntermediateSize)),
      };
      if (moe.grouped) {
        // DeepSeek: shared experts as one wide MLP, added ungated; the router's choice bias.
        if (moe.sharedExpertIntermediateSize > 0) m.shared = gated(`${p}.mlp.shared_experts`, PROJ, moe.sharedExpertIntermediateSize);
        m.scoreBias = vec(`${p}.mlp.gate.e_score_correction_bias`, moe.numExperts);
      } else if (moe.sharedExpertIntermediateSize > 0) {
        m.shared = gated(`${p}.mlp.shared_expert`, PROJ, moe.sharedExpertIntermediateSize);
        m.sharedGate = mat(`${p}.mlp.shared_expert_gate.weight`, 1, H);
      }
      layer.moe = m;
    }
    layers.push(layer);
  }
  return {
    embed,
    layers,
    finalNorm: gain('model.norm.weight', H),
    lmHead: lmHead(c, src, 'lm_head.weight', embed),
  };
}

// q, k and v, from their own tensors or from Phi-3's fused qkv_proj (rows q | k | v).
function qkv(src: TensorSource, p: string, qDim: number, kvDim: number, H: number): Pick<LayerWeights, 'q' | 'k' | 'v'> {
  if (src.has(`${p}.qkv_proj.weight`)) {
    const t = expectTensor(src, `${p}.qkv_proj.weight`, [qDim + 2 * kvDim, H]);
    return { q: rowSlice(t, 0, qDim), k: rowSlice(t, qDim, qDim + kvDim), v: rowSlice(t, qDim + kvDim, qDim + 2 * kvDim) };
  }
  return {
    q: expectTensor(src, `${p}.q_proj.weight`, [qDim, H]),
    k: expectTensor(src, `${p}.k_proj.weight`, [kvDim, H]),
    v: expectTensor(src, `${p}.v_proj.weight`, [kvDim, H]),
  };
}

// DeepSeek's latent attention: q through q_a/q_b when it has a q rank, kv_a_proj_with_mqa to the latent
// and rope key, kv_b from the latent to each head's key and value.
function latentAttention(src: TensorSource, p: string, c: ModelConfig): Pick<LayerWeights, 'q' | 'k' | 'mla'> {
  const m = c.mla!;
  const H = c.hiddenSize, heads = c.numHeads, qk = m.qkNopeDim + m.qkRopeDim;
  const mat = (name: string, rows: number, cols: number) => expectTensor(src, `${p}.${name}.weight`, [rows, cols]);
  const kvb = { kvANorm: expectVector(src, `${p}.kv_a_layernorm.weight`, m.kvLoraRank), kvB: mat('kv_b_proj', heads * (m.qkNopeDim + m.vHeadDim), m.kvLoraRank) };
  const headShape = { heads, nope: m.qkNopeDim, v: m.vHeadDim };
  const k = mat('kv_a_proj_with_mqa', m.kvLoraRank + m.qkRopeDim, H);
  if (!m.qLoraRank) return { q: mat('q_proj', heads * qk, H), k, mla: { ...kvb, headShape } };
  return {
    q: mat('q_a_proj', m.qLoraRank, H), k,
    mla: { qANorm: expectVector(src, `${p}.q_a_layernorm.weight`, m.qLoraRank), qB: mat('q_b_proj', heads * qk, m.qLoraRank), ...kvb, headShape },
  };
}

function lmHead(c: ModelConfig, src: TensorSource, name: string, embed: ModelWeights['embed']): ModelWeights['embed'] {
  if (src.has(name)) return expectTensor(src, name, [c.vocabSize, c.hiddenSize]);
  if (c.tieEmbeddings) return embed;
  throw new ModelLoadError(src.fileOf(name), `missing tensor "${name}" (tie_word_embeddings is false)`);
}

// GPT-2 uses Conv1D ([in, out]) weights, a fused q/k/v projection, LayerNorm with biases and
// learned positions. Checkpoints name tensors with or without the "transformer." prefix.
function gpt2Weights(c: ModelConfig, src: TensorSource): ModelWeights {
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  const prefix = src.has('transformer.wte.weight') ? 'transformer.' : '';
  const conv = (name: string, inDim: number, outDim: number) => transpose2d(expectTensor(src, prefix + name, [inDim, outDim]));
  const vec = (name: string, n: number) => expectVector(src, prefix + name, n);

  const embed = expectTensor(src, `${prefix}wte.weight`, [c.vocabSize, H]);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `h.${i}`;
    const qkv = conv(`${p}.attn.c_attn.weight`, H, 3 * H);
    const qkvBias = vec(`${p}.attn.c_attn.bias`, 3 * H);
    layers.push({
      attnNorm: vec(`${p}.ln_1.weight`, H),
      attnNormBias: vec(`${p}.ln_1.bias`, H),
      q: rowSlice(qkv, 0, H),
      k: rowSlice(qkv, H, 2 * H),
      v: rowSlice(qkv, 2 * H, 3 * H),
      qBias: qkvBias.subarray(0, H),
      kBias: qkvBias.subarray(H, 2 * H),
      vBias: qkvBias.subarray(2 * H, 3 * H),
      o: conv(`${p}.attn.c_proj.weight`, H, H),
      oBias: vec(`${p}.attn.c_proj.bias`, H),
      mlpNorm: vec(`${p}.ln_2.weight`, H),
      mlpNormBias: vec(`${p}.ln_2.bias`, H),
      mlp: {
        up: conv(`${p}.mlp.c_fc.weight`, H, I),
        upBias: vec(`${p}.mlp.c_fc.bias`, I),
        down: conv(`${p}.mlp.c_proj.weight`, I, H),
        downBias: vec(`${p}.mlp.c_proj.bias`, H),
      },
    });
  }
  return {
    embed,
    posEmbed: expectTensor(src, `${prefix}wpe.weight`, [c.maxPositions, H]),
    layers,
    finalNorm: vec('ln_f.weight', H),
    finalNormBias: vec('ln_f.bias', H),
    lmHead: lmHead(c, src, 'lm_head.weight', embed),
  };
}
