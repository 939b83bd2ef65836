// Converts the llama-gqa fixture to GGUF the way llama.cpp's converter does (names, metadata, q/k
// rows permuted for interleaved RoPE), for GGUF tests on real goldens.

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
