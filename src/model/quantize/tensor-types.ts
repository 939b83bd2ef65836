// Which type each tensor gets in a quantized GGUF: llama.cpp's llama-quantize choices without an
// importance matrix (llama-quant.cpp, llama_tensor_get_type), so `tsllm quantize --type Q4_K_M` writes
// the mix a user downloads as Q4_K_M: the output head in Q6_K, attn_v and ffn_down in Q6_K in the
// layers that use_more_bits picks, the rest Q4_K; and a K-quant whose rows are not a multiple of 256
// falls back to a 32-block type.

import type { WeightDType } from '../../kernels/formats.js';

export interface QuantType {
  /** llama.cpp's LLAMA_FTYPE, written as general.file_type. */
  fileType: number;
  /** The type of most matrices. */
  base: WeightDType;
}

export const QUANT_TYPES = {
  F32: { fileType: 0, base: 'f32' },
  F16: { fileType: 1, base: 'f16' },
  BF16: { fileType: 32, base: 'bf16' },
  Q8_0: { fileType: 7, base: 'q8_0' },
  Q4_0: { fileType: 2, base: 'q4_0' },
  Q4_1: { fileType: 3, base: 'q4_1' },
  Q5_0: { fileType: 8, base: 'q5_0' },
  Q5_1: { fileType: 9, base: 'q5_1' },
  Q2_K: { fileType: 10, base: 'q2_k' },
  Q3_K_S: { fileType: 11, base: 'q3_k' },
  Q3_K_M: { fileType: 12, base: 'q3_k' },
  Q3_K_L: { fileType: 13, base: 'q3_k' },
  Q4_K_S: { fileType: 14, base: 'q4_k' },
  Q4_K_M: { fileType: 15, base: 'q4_k' },
  Q5_K_S: { fileType: 16, base: 'q5_k' },
  Q5_K_M: { fileType: 17, base: 'q5_k' },
  Q6_K: { fileType: 18, base: 'q6_k' },
  IQ4_NL: { fileType: 25, base: 'iq4_nl' },
  IQ4_XS: { fileType: 30, base: 'iq4_xs' },
} as const satisfies Record<string, QuantType>;

export type QuantTypeName = keyof typeof QUANT_TYPES;

/** llama-quantize's short names for the medium mixes. */
const ALIASES: Record<string, QuantTypeName> = { Q3_K: 'Q3_K_M', Q4_K: 'Q4_K_M', Q5_K: 'Q5_K_M' };

export function parseQuantType(name: string): QuantTypeName | null {
  const upper = name.toUpperCase();
  if (upper in QUANT_TYPES) return upper as QuantTypeName;
  return ALIASES[upper] ?? null;
}

export const QUANT_TYPE_NAMES = [...Object.keys(QUANT_TYPES), ...Object.keys(ALIASES)];

/** What the choice depends on besides the tensor. */
export interface ModelShape {
  numLayers: number;
  /** Query heads per KV head. */
  gqa: number;
  numExperts: number;
  /** false when the embedding doubles as the output head (then it is quantized as the head). */
  hasOutput: boolean;
}

/** A weight llama-quantize quantizes: a matrix (or stack of them) that is not a norm, router or position table. */
export function isQuantizable(name: string, shape: readonly number[]): boolean {
  return name.endsWith('weight') && shape.length >= 2 && !name.includes('_norm.weight') && !name.includes('ffn_gate_inp.weight')
    && name !== 'position_embd.weight' && !name.includes('attn_rel_b.weight') && !name.includes('ssm_conv1d.weight');
}

const useMoreBits = (i: number, n: number): boolean => i < Math.floor(n / 8) || i >= Math.floor((7 * n) / 8) || (i - Math.floor(n / 8)) % 3 === 2;

const FALLBACK: Partial<Record<WeightDType, WeightDType>> = {
  q2_k: 'iq4_nl', q3_k: 'iq4_nl', iq4_xs: 'iq4_nl', q4_k: 'q5_0', q5_k: 'q5_1', q6_k: 'q8_0',
};

const BLOCK: Record<string, number> = { q2_k: 256, q3_k: 256, q4_k: 256, q5_k: 256, q6_k: 256, iq4_xs: 256 };

/**
 * The type of tensor `name` (row-major `shape`, rows of shape[last] elements) under `type`; null when
 * it is not quantized (kept as stored).
 */
export function tensorType(type: QuantTypeName, name: string, shape: readonly number[], m: ModelShape): WeightDType | null {
  if (!isQuantizable(name, shape)) return null;
  const base = QUANT_TYPES[type].base;
  if (base === 'f32' || base === 'f16' || base === 'bf16') return base;
  const rowLength = shape[shape.length - 1]!;
  const layer = Number(/^blk\.(\d+)\./.exec(name)?.[1] ?? 0);
  const n = m.numLayers;
  let t: WeightDType = base;
  if (name === 'output.weight' || (!m.hasOutput && name === 'token_embd.weight')) {
    if (rowLength % 256 !== 0) t = 'q8_0';
    else if (t !== 'q8_0') t = 'q6_k';
    return t;
  }
  if (name === 'token_embd.weight') {
    // kept at the base type
  } else if (name.includes('attn_v.weight')) {
    if (type === 'Q2_K') t = m.gqa >= 4 ? 'q4_k' : 'q3_k';
    else if (type === 'Q3_K_M') t = layer < 2 ? 'q5_k' : 'q4_k';
    else if (type === 'Q3_K_L') t = 'q5_k';
    else if ((type === 'IQ4_NL' || type === 'IQ4_XS') && m.gqa >= 4) t = 'q5_k';
    else if ((type === 'Q4_K_M' || type === 'Q5_K_M') && useMoreBits(layer, n)) t = 'q6_k';
    else if (type === 'Q4_K_S' && layer < 4) t = 'q5_k';
    if (m.numExperts === 8) t = 'q8_0';
  } else if (name.includes('attn_k.weight')) {
    if (m.numExperts === 8) t = 'q8_0';
  } else if (name.includes('ffn_down')) {
    if (type === 'Q2_K') t = 'q3_k';
    else if (type === 'Q3_K_M') t = layer < Math.floor(n / 16) ? 'q5_k' : 'q4_k';
    else if (type === 'Q3_K_L') t = 'q5_k';
    else if (type === 'Q4_K_M') {
      if (useMoreBits(layer, n)) t = 'q6_k';
    } else if (layer < Math.floor(n / 8) && (type === 'IQ4_NL' || type === 'IQ4_XS')) t = 'q5_k';
    else if (type === 'Q5_K_M' && useMoreBits(layer, n)) t = 'q6_k';
    else if (type === 'Q4_K_S' && layer < Math.floor(n / 8)) t = 'q5_k';
  } else if (name.includes('attn_output.weight')) {
    if (m.numExperts === 8) {
      if (['Q2_K', 'Q3_K_S', 'Q3_K_M', 'IQ4_NL', 'Q4_K_S', 'Q4_K_M', 'IQ4_XS'].includes(type)) t = 'q5_k';
    } else if (type === 'Q2_K') t = 'q3_k';
    else if (type === 'Q3_K_M') t = 'q4_k';
    else if (type === 'Q3_K_L') t = 'q5_k';
  } else if (name.includes('attn_qkv.weight')) {
    if (type === 'Q3_K_M' || type === 'Q3_K_L') t = 'q4_k';
    else if (type === 'Q4_K_M') t = 'q5_k';
    else if (type === 'Q5_K_M') t = 'q6_k';
  }
  if (rowLength % (BLOCK[t] ?? 32) !== 0) t = FALLBACK[t] ?? t;
  return t;
}
