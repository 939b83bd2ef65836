// What `tsllm quantize` reads: a GGUF (its metadata copied as llama-quantize copies it) or a Hugging
// Face folder of a Llama-family model (its metadata, tensor names and q/k row order as llama.cpp's
// convert_hf_to_gguf.py writes them), as named tensors read one at a time.

import path from 'node:path';
import fs from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { toFloat32, weightFromF32, type WeightDType, type WeightTensor } from '../../kernels/tensor.js';
import { GgufFile } from '../loaders/gguf.js';
import { GGUF_TYPE, type GgufEntry } from '../loaders/gguf-writer.js';
import { readHfConfig, readJsonFile, safetensorsFiles } from '../loaders/hf-folder.js';
import { SafetensorsFile, SafetensorsSource } from '../loaders/safetensors.js';
import type { ModelConfig } from '../config.js';
import { hfVocabMetadata } from './gguf-vocab.js';
import { presetSource } from './preset-source.js';
import { decoderMetadata } from './gguf-metadata.js';
import type { ModelShape } from './tensor-types.js';

export interface SourceTensor {
  /** GGUF name. */
  name: string;
  /** Row-major. */
  shape: number[];
  /** As stored (before any q/k row permutation, which keeps it). */
  dtype: WeightDType;
  read(): WeightTensor;
}

export interface QuantizeSource {
  /** Everything but general.file_type and general.quantization_version, which the writer sets. */
  metadata: GgufEntry[];
  tensors: SourceTensor[];
  shape: ModelShape;
  close(): void;
}

const SET_BY_QUANTIZE = new Set(['general.file_type', 'general.quantization_version']);

export function openQuantizeSource(input: string): QuantizeSource {
  if (input.startsWith('preset:')) return presetSource(input.slice('preset:'.length));
  if (!fs.existsSync(input)) throw new UsageError(`${input}: no such file or folder`);
  return fs.statSync(input).isDirectory() ? hfSource(input) : ggufSource(input);
}

function ggufSource(file: string): QuantizeSource {
  const g = GgufFile.open(file);
  const metadata: GgufEntry[] = [];
  for (const [key, value] of g.metadata) if (!SET_BY_QUANTIZE.has(key)) metadata.push({ key, value, ...g.metadataTypes.get(key)! });
  const arch = String(g.meta('general.architecture') ?? 'llama');
  const n = (key: string, fallback: number): number => {
    const v = g.meta(`${arch}.${key}`);
    return typeof v === 'number' ? v : fallback;
  };
  const heads = n('attention.head_count', 1);
  return {
    metadata,
    tensors: [...g.tensors.values()].map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype, read: () => g.get(t.name) })),
    shape: { numLayers: n('block_count', 1), gqa: heads / n('attention.head_count_kv', heads), numExperts: n('expert_count', 0), hasOutput: g.has('output.weight') },
    close: () => g.close(),
  };
}

// ---- Hugging Face folders -----------------------------------------------------------------------------------

const GGUF_ARCH: Partial<Record<ModelConfig['architecture'], string>> = { llama: 'llama', mistral: 'llama', qwen2: 'qwen2', qwen3: 'qwen3' };

/** convert_hf_to_gguf's LlamaModel.permute: per head, rows [half 0 | half 1] interleaved pairwise. */
function permuteRows(w: WeightTensor, heads: number): WeightTensor {
  const [rows, cols] = w.shape as [number, number];
  const x = toFloat32(w);
  const out = new Float32Array(x.length);
  const half = rows / heads / 2;
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let i = 0; i < half; i++) {
        const from = (h * 2 * half + s * half + i) * cols, to = (h * 2 * half + 2 * i + s) * cols;
        out.set(x.subarray(from, from + cols), to);
      }
    }
  }
  return weightFromF32(out, [rows, cols]);
}

function sizeLabel(params: number): string {
  const [scale, suffix] = params >= 1e12 ? [1e12, 'T'] : params >= 1e9 ? [1e9, 'B'] : params >= 1e6 ? [1e6, 'M'] : [1e3, 'K'];
  const v = params / scale;
  const digits = Math.max(0, 1 - Math.floor(Math.log10(v)));
  return `${Number(v.toFixed(digits))}${suffix}`;
}

function hfSource(dir: string): QuantizeSource {
  const c = readHfConfig(dir);
  const arch = GGUF_ARCH[c.architecture];
  const raw = readJsonFile(path.join(dir, 'config.json'));
  if (!arch || c.moe) throw new UsageError(`${dir}: quantizing a Hugging Face folder covers Llama, Mistral, Qwen2 and Qwen3 (this is ${c.architecture}); give a GGUF (f32/f16/bf16) of other models`);
  if (raw['rope_scaling']) throw new UsageError(`${dir}: rope_scaling is not carried into GGUF here; convert with llama.cpp's convert_hf_to_gguf.py --outtype f16 and quantize that GGUF`);
  const src = new SafetensorsSource(safetensorsFiles(dir).map((f) => SafetensorsFile.open(f)));
  const tensors: SourceTensor[] = [];
  const add = (name: string, hf: string, transform?: (w: WeightTensor) => WeightTensor) => {
    const entry = src.files.map((f) => f.entries.get(hf)).find((e) => e);
    if (!entry) throw new UsageError(`${src.fileOf(hf)}: missing tensor "${hf}"`);
    if (entry.dtype === 'u8') throw new UsageError(`${src.fileOf(hf)}: tensor "${hf}" holds packed bytes (U8), not weights to quantize`);
    tensors.push({ name, shape: [...entry.shape], dtype: entry.dtype, read: () => (transform ? transform(src.get(hf)) : src.get(hf)) });
  };
  add('token_embd.weight', 'model.embed_tokens.weight');
  const permute = arch === 'llama';
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`, b = `blk.${i}`;
    add(`${b}.attn_norm.weight`, `${p}.input_layernorm.weight`);
    add(`${b}.attn_q.weight`, `${p}.self_attn.q_proj.weight`, permute ? (w) => permuteRows(w, c.numHeads) : undefined);
    add(`${b}.attn_k.weight`, `${p}.self_attn.k_proj.weight`, permute ? (w) => permuteRows(w, c.numKvHeads) : undefined);
    add(`${b}.attn_v.weight`, `${p}.self_attn.v_proj.weight`);
    add(`${b}.attn_output.weight`, `${p}.self_attn.o_proj.weight`);
    if (c.qkvBias) for (const x of ['q', 'k', 'v']) add(`${b}.attn_${x}.bias`, `${p}.self_attn.${x}_proj.bias`);
    if (c.qkNorm) {
      add(`${b}.attn_q_norm.weight`, `${p}.self_attn.q_norm.weight`);
      add(`${b}.attn_k_norm.weight`, `${p}.self_attn.k_norm.weight`);
    }
    add(`${b}.ffn_norm.weight`, `${p}.post_attention_layernorm.weight`);
    add(`${b}.ffn_gate.weight`, `${p}.mlp.gate_proj.weight`);
    add(`${b}.ffn_up.weight`, `${p}.mlp.up_proj.weight`);
    add(`${b}.ffn_down.weight`, `${p}.mlp.down_proj.weight`);
  }
  add('output_norm.weight', 'model.norm.weight');
  if (!c.tieEmbeddings) add('output.weight', 'lm_head.weight');
  const params = tensors.reduce((sum, t) => sum + t.shape.reduce((a, d) => a * d, 1), 0);
  const metadata: GgufEntry[] = [
    { key: 'general.architecture', type: GGUF_TYPE.string, value: arch },
    { key: 'general.type', type: GGUF_TYPE.string, value: 'model' },
    { key: 'general.name', type: GGUF_TYPE.string, value: path.basename(path.resolve(dir)) },
    { key: 'general.size_label', type: GGUF_TYPE.string, value: sizeLabel(params) },
    ...decoderMetadata(arch, c, true),
    ...hfVocabMetadata(dir, c.vocabSize, c.bosTokenId, c.eosTokenIds),
  ];
  return {
    metadata,
    tensors,
    shape: { numLayers: c.numLayers, gqa: c.numHeads / c.numKvHeads, numExperts: 0, hasOutput: !c.tieEmbeddings },
    close: () => src.close(),
  };
}
