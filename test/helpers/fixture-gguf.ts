// Converts the llama-gqa fixture to GGUF the way llama.cpp's converter does (names, metadata, q/k
// rows permuted for interleaved RoPE), for GGUF tests on real goldens.

import fs from 'node:fs';
import path from 'node:path';
import { SafetensorsFile } from '../../src/model/loaders/safetensors.js';
import { toFloat32 } from '../../src/kernels/tensor.js';
import { modelDir } from './fixtures.js';
import { writeGguf, type GgufTensor, type MetaValue } from './gguf-writer.js';

/** HF rotate-half rows -> interleaved rows: new row h*hd + 2j + t = old row h*hd + t*hd/2 + j. */
export function permuteForInterleavedRope(w: Float32Array, heads: number, cols: number): Float32Array {
  const hd = w.length / cols / heads;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) for (let t = 0; t < 2; t++) for (let j = 0; j < hd / 2; j++) {
    const src = (h * hd + t * (hd / 2) + j) * cols;
    out.set(w.subarray(src, src + cols), (h * hd + 2 * j + t) * cols);
  }
  return out;
}

export function llamaGqaAsGguf(file: string, overrides: { arch?: string; typeId?: number; meta?: [string, MetaValue][] } = {}): void {
  const st = SafetensorsFile.open(path.join(modelDir('llama-gqa'), 'model.safetensors'));
  const t = (name: string) => toFloat32(st.read(name));
  const tensors: GgufTensor[] = [
    { name: 'token_embd.weight', shape: [512, 64], data: t('model.embed_tokens.weight') },
    { name: 'output_norm.weight', shape: [64], data: t('model.norm.weight') },
    { name: 'output.weight', shape: [512, 64], data: t('lm_head.weight') },
  ];
  for (let l = 0; l < 2; l++) {
    const p = `model.layers.${l}.`;
    const b = `blk.${l}.`;
    tensors.push(
      { name: b + 'attn_norm.weight', shape: [64], data: t(p + 'input_layernorm.weight') },
      { name: b + 'attn_q.weight', shape: [64, 64], data: permuteForInterleavedRope(t(p + 'self_attn.q_proj.weight'), 4, 64), ...(overrides.typeId !== undefined ? { typeId: overrides.typeId } : {}) },
      { name: b + 'attn_k.weight', shape: [32, 64], data: permuteForInterleavedRope(t(p + 'self_attn.k_proj.weight'), 2, 64) },
      { name: b + 'attn_v.weight', shape: [32, 64], data: t(p + 'self_attn.v_proj.weight') },
      { name: b + 'attn_output.weight', shape: [64, 64], data: t(p + 'self_attn.o_proj.weight') },
      { name: b + 'ffn_norm.weight', shape: [64], data: t(p + 'post_attention_layernorm.weight') },
      { name: b + 'ffn_gate.weight', shape: [172, 64], data: t(p + 'mlp.gate_proj.weight') },
      { name: b + 'ffn_up.weight', shape: [172, 64], data: t(p + 'mlp.up_proj.weight') },
      { name: b + 'ffn_down.weight', shape: [64, 172], data: t(p + 'mlp.down_proj.weight') },
    );
  }
  st.close();
  const arch = overrides.arch ?? 'llama';
  const meta: [string, MetaValue][] = [
    ['general.architecture', { str: arch }],
    [`${arch}.context_length`, { u32: 512 }],
    [`${arch}.embedding_length`, { u32: 64 }],
    [`${arch}.block_count`, { u32: 2 }],
    [`${arch}.feed_forward_length`, { u32: 172 }],
    [`${arch}.attention.head_count`, { u32: 4 }],
    [`${arch}.attention.head_count_kv`, { u32: 2 }],
    [`${arch}.attention.layer_norm_rms_epsilon`, { f32: 1e-5 }],
    [`${arch}.rope.freq_base`, { f32: 10000 }],
    [`${arch}.rope.dimension_count`, { u32: 16 }],
  ];
  writeGguf(file, [...meta, ...(overrides.meta ?? [])], tensors);
}

/**
 * The gemma2, gemma3 and phi3 fixtures as llama.cpp's converter writes them: its tensor names, Gemma's
 * norm gains with the 1 folded in, Phi-3's fused attn_qkv and gate|up ffn_up and its rope factor
 * tensors. Two keys the converter of the fixtures' llama.cpp does not write are added, as later
 * llama.cpp versions read them: attention.scale (the fixtures' query_pre_attn_scalar is neither of
 * llama.cpp's two size rules) and Gemma 3's attention.sliding_window_pattern (2 here, not 6).
 */
export function familyFixtureAsGguf(name: 'gemma2' | 'gemma3' | 'phi3', file: string): void {
  const dir = modelDir(name);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const st = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  const t = (n: string) => toFloat32(st.read(n));
  const gemma = name !== 'phi3';
  const gain = (n: string) => (gemma ? Float32Array.from(t(n), (w) => 1 + w) : t(n));
  const shape = (n: string) => [...st.read(n).shape];
  const tensors: GgufTensor[] = [];
  const put = (gguf: string, hf: string, data = t(hf)) => tensors.push({ name: gguf, shape: shape(hf), data });
  put('token_embd.weight', 'model.embed_tokens.weight');
  put('output_norm.weight', 'model.norm.weight', gain('model.norm.weight'));
  if (!gemma) put('output.weight', 'lm_head.weight');
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`, b = `blk.${l}.`;
    put(b + 'attn_norm.weight', p + 'input_layernorm.weight', gain(p + 'input_layernorm.weight'));
    put(b + 'attn_output.weight', p + 'self_attn.o_proj.weight');
    put(b + 'ffn_down.weight', p + 'mlp.down_proj.weight');
    if (gemma) {
      for (const x of ['q', 'k', 'v']) put(`${b}attn_${x}.weight`, `${p}self_attn.${x}_proj.weight`);
      put(b + 'post_attention_norm.weight', p + 'post_attention_layernorm.weight', gain(p + 'post_attention_layernorm.weight'));
      put(b + 'ffn_norm.weight', p + 'pre_feedforward_layernorm.weight', gain(p + 'pre_feedforward_layernorm.weight'));
      put(b + 'post_ffw_norm.weight', p + 'post_feedforward_layernorm.weight', gain(p + 'post_feedforward_layernorm.weight'));
      put(b + 'ffn_gate.weight', p + 'mlp.gate_proj.weight');
      put(b + 'ffn_up.weight', p + 'mlp.up_proj.weight');
      if (name === 'gemma3') {
        put(b + 'attn_q_norm.weight', p + 'self_attn.q_norm.weight', gain(p + 'self_attn.q_norm.weight'));
        put(b + 'attn_k_norm.weight', p + 'self_attn.k_norm.weight', gain(p + 'self_attn.k_norm.weight'));
      }
    } else {
      put(b + 'attn_qkv.weight', p + 'self_attn.qkv_proj.weight');
      put(b + 'ffn_up.weight', p + 'mlp.gate_up_proj.weight');
      put(b + 'ffn_norm.weight', p + 'post_attention_layernorm.weight');
    }
  }
  st.close();
  const arch = name;
  const headDim = cfg.head_dim ?? cfg.hidden_size / cfg.num_attention_heads;
  const meta: [string, MetaValue][] = [
    ['general.architecture', { str: arch }],
    [`${arch}.context_length`, { u32: cfg.max_position_embeddings }],
    [`${arch}.embedding_length`, { u32: cfg.hidden_size }],
    [`${arch}.block_count`, { u32: cfg.num_hidden_layers }],
    [`${arch}.feed_forward_length`, { u32: cfg.intermediate_size }],
    [`${arch}.attention.head_count`, { u32: cfg.num_attention_heads }],
    [`${arch}.attention.head_count_kv`, { u32: cfg.num_key_value_heads }],
    [`${arch}.attention.layer_norm_rms_epsilon`, { f32: cfg.rms_norm_eps }],
    [`${arch}.rope.freq_base`, { f32: cfg.rope_theta }],
  ];
  if (gemma) {
    meta.push(
      [`${arch}.attention.key_length`, { u32: headDim }], [`${arch}.attention.value_length`, { u32: headDim }],
      [`${arch}.attention.sliding_window`, { u32: cfg.sliding_window }],
      [`${arch}.attention.scale`, { f32: cfg.query_pre_attn_scalar ** -0.5 }],
    );
    if (cfg.attn_logit_softcapping) meta.push([`${arch}.attn_logit_softcapping`, { f32: cfg.attn_logit_softcapping }], [`${arch}.final_logit_softcapping`, { f32: cfg.final_logit_softcapping }]);
    if (name === 'gemma3') meta.push([`${arch}.attention.sliding_window_pattern`, { u32: cfg.sliding_window_pattern }]);
  } else {
    const rot = Math.floor(headDim * cfg.partial_rotary_factor);
    const orig = cfg.original_max_position_embeddings;
    const scale = cfg.max_position_embeddings / orig;
    meta.push(
      [`${arch}.rope.dimension_count`, { u32: rot }],
      [`${arch}.rope.scaling.original_context_length`, { u32: orig }],
      [`${arch}.rope.scaling.attn_factor`, { f32: Math.sqrt(1 + Math.log(scale) / Math.log(orig)) }],
    );
    tensors.push(
      { name: 'rope_factors_long.weight', shape: [rot / 2], data: Float32Array.from(cfg.rope_scaling.long_factor) },
      { name: 'rope_factors_short.weight', shape: [rot / 2], data: Float32Array.from(cfg.rope_scaling.short_factor) },
    );
  }
  writeGguf(file, meta, tensors);
}

/**
 * The llama31-tied-rope-llama3 fixture as llama.cpp's converter writes a Llama 3.1 file: q/k rows
 * permuted, tied (no output.weight), and the llama3 RoPE scaling as the rope_freqs.weight tensor of
 * per-frequency divisors (convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors), with no
 * rope.scaling metadata.
 */
export function llama31AsGguf(file: string): void {
  const dir = modelDir('llama31-tied-rope-llama3');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const st = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  const t = (n: string) => toFloat32(st.read(n));
  const [H, heads, kvHeads, hd, I] = [cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim, cfg.intermediate_size];
  const tensors: GgufTensor[] = [
    { name: 'token_embd.weight', shape: [cfg.vocab_size, H], data: t('model.embed_tokens.weight') },
    { name: 'output_norm.weight', shape: [H], data: t('model.norm.weight') },
  ];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`, b = `blk.${l}.`;
    tensors.push(
      { name: b + 'attn_norm.weight', shape: [H], data: t(p + 'input_layernorm.weight') },
      { name: b + 'attn_q.weight', shape: [heads * hd, H], data: permuteForInterleavedRope(t(p + 'self_attn.q_proj.weight'), heads, H) },
      { name: b + 'attn_k.weight', shape: [kvHeads * hd, H], data: permuteForInterleavedRope(t(p + 'self_attn.k_proj.weight'), kvHeads, H) },
      { name: b + 'attn_v.weight', shape: [kvHeads * hd, H], data: t(p + 'self_attn.v_proj.weight') },
      { name: b + 'attn_output.weight', shape: [H, heads * hd], data: t(p + 'self_attn.o_proj.weight') },
      { name: b + 'ffn_norm.weight', shape: [H], data: t(p + 'post_attention_layernorm.weight') },
      { name: b + 'ffn_gate.weight', shape: [I, H], data: t(p + 'mlp.gate_proj.weight') },
      { name: b + 'ffn_up.weight', shape: [I, H], data: t(p + 'mlp.up_proj.weight') },
      { name: b + 'ffn_down.weight', shape: [H, I], data: t(p + 'mlp.down_proj.weight') },
    );
  }
  st.close();
  const s = cfg.rope_scaling;
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor, highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  const factors = Array.from({ length: hd / 2 }, (_, j) => {
    const wavelen = (2 * Math.PI) / Math.fround(1 / Math.fround(cfg.rope_theta ** Math.fround((2 * j) / hd)));
    if (wavelen < highWavelen) return 1;
    if (wavelen > lowWavelen) return s.factor;
    const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    return 1 / ((1 - smooth) / s.factor + smooth);
  });
  tensors.push({ name: 'rope_freqs.weight', shape: [hd / 2], data: Float32Array.from(factors) });
  writeGguf(file, [
    ['general.architecture', { str: 'llama' }],
    ['llama.context_length', { u32: cfg.max_position_embeddings }],
    ['llama.embedding_length', { u32: H }],
    ['llama.block_count', { u32: cfg.num_hidden_layers }],
    ['llama.feed_forward_length', { u32: I }],
    ['llama.attention.head_count', { u32: heads }],
    ['llama.attention.head_count_kv', { u32: kvHeads }],
    ['llama.attention.key_length', { u32: hd }],
    ['llama.attention.layer_norm_rms_epsilon', { f32: cfg.rms_norm_eps }],
    ['llama.rope.freq_base', { f32: cfg.rope_theta }],
    ['llama.rope.dimension_count', { u32: hd }],
  ], tensors);
}
