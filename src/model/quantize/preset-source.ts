// `tsllm quantize preset:NAME OUT --type T`: a --load-format dummy shape (presets.ts) written as
// llama.cpp's converter writes that architecture (tensor names, fused tensors, metadata keys) with
// seeded random weights and a synthetic SentencePiece vocabulary, so that tsllm and llama.cpp can be
// benchmarked on the very same file of a model neither has the weights of. Each tensor is drawn when
// it is written (seeded by its name), so a multi-GB model never sits in memory.

import { UsageError } from '../../util/errors.js';
import { weightFromF32, type WeightTensor } from '../../kernels/tensor.js';
import { Rng } from '../../util/rng.js';
import type { ModelConfig } from '../config.js';
import { presetConfig } from '../loaders/dummy.js';
import { GGUF_TYPE, type GgufEntry } from '../loaders/gguf-writer.js';
import type { QuantizeSource, SourceTensor } from './quantize-source.js';
import { decoderMetadata } from './gguf-metadata.js';

const GGUF_ARCH: Partial<Record<ModelConfig['architecture'], string>> = {
  llama: 'llama', mistral: 'llama', qwen2: 'qwen2', gemma2: 'gemma2', gemma3_text: 'gemma3', phi3: 'phi3',
};

const STD = 0.02;

function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function random(name: string, shape: number[]): WeightTensor {
  return weightFromF32(new Rng(seedOf(name)).normals(shape.reduce((a, b) => a * b, 1), STD), shape);
}

const ones = (shape: number[]): WeightTensor => weightFromF32(new Float32Array(shape[0]!).fill(1), shape);

export function presetSource(name: string, config: ModelConfig = presetConfig(name)): QuantizeSource {
  const c = config;
  const arch = GGUF_ARCH[c.architecture];
  if (!arch || c.moe || c.mla) throw new UsageError(`preset ${name}: writing ${c.architecture} as GGUF is not supported (llama, mistral, qwen2, gemma2, gemma3_text, phi3 without experts)`);
  const H = c.hiddenSize, I = c.intermediateSize, qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
  const tensors: SourceTensor[] = [];
  const mat = (n: string, shape: number[]) => tensors.push({ name: n, shape, dtype: 'f32', read: () => random(n, shape) });
  const norm = (n: string, size: number) => tensors.push({ name: n, shape: [size], dtype: 'f32', read: () => ones([size]) });
  mat('token_embd.weight', [c.vocabSize, H]);
  for (let l = 0; l < c.numLayers; l++) {
    const b = `blk.${l}.`;
    norm(b + 'attn_norm.weight', H);
    norm(b + 'ffn_norm.weight', H);
    mat(b + 'attn_output.weight', [H, qDim]);
    mat(b + 'ffn_down.weight', [H, I]);
    if (arch === 'phi3') {
      mat(b + 'attn_qkv.weight', [qDim + 2 * kvDim, H]);
      mat(b + 'ffn_up.weight', [2 * I, H]);
      continue;
    }
    mat(b + 'attn_q.weight', [qDim, H]);
    mat(b + 'attn_k.weight', [kvDim, H]);
    mat(b + 'attn_v.weight', [kvDim, H]);
    mat(b + 'ffn_gate.weight', [I, H]);
    mat(b + 'ffn_up.weight', [I, H]);
    if (c.qkvBias) for (const [x, n] of [['q', qDim], ['k', kvDim], ['v', kvDim]] as const) mat(`${b}attn_${x}.bias`, [n]);
    if (c.qkNorm) {
      norm(b + 'attn_q_norm.weight', c.headDim);
      norm(b + 'attn_k_norm.weight', c.headDim);
    }
    if (c.sandwichNorms) {
      norm(b + 'post_attention_norm.weight', H);
      norm(b + 'post_ffw_norm.weight', H);
    }
  }
  norm('output_norm.weight', H);
  if (!c.tieEmbeddings) mat('output.weight', [c.vocabSize, H]);
  return {
    metadata: presetMetadata(name, arch, c),
    tensors,
    shape: { numLayers: c.numLayers, gqa: c.numHeads / c.numKvHeads, numExperts: 0, hasOutput: !c.tieEmbeddings },
    close: () => {},
  };
}

function presetMetadata(name: string, arch: string, c: ModelConfig): GgufEntry[] {
  const u32 = (key: string, value: number): GgufEntry => ({ key: `${arch}.${key}`, type: GGUF_TYPE.u32, value });
  const f32 = (key: string, value: number): GgufEntry => ({ key: `${arch}.${key}`, type: GGUF_TYPE.f32, value });
  const out: GgufEntry[] = [
    { key: 'general.architecture', type: GGUF_TYPE.string, value: arch },
    { key: 'general.type', type: GGUF_TYPE.string, value: 'model' },
    { key: 'general.name', type: GGUF_TYPE.string, value: `${name} (random weights)` },
    ...decoderMetadata(arch, c),
  ];
  if (c.attnSoftcap) out.push(f32('attn_logit_softcapping', c.attnSoftcap));
  if (c.finalSoftcap) out.push(f32('final_logit_softcapping', c.finalSoftcap));
  if (c.attnScale !== undefined && arch.startsWith('gemma')) out.push(f32('attention.scale', c.attnScale));
  if (c.localRope) out.push(f32('rope.freq_base_swa', c.localRope.theta));
  // Later llama.cpp reads Gemma 3's pattern (every n-th layer full); it assumes 6 without it.
  const firstFull = c.slidingLayers?.indexOf(false) ?? -1;
  if (arch === 'gemma3' && firstFull >= 0) out.push(u32('attention.sliding_window_pattern', firstFull + 1));
  return [...out, ...syntheticVocab(c)];
}

// A SentencePiece ("llama") vocabulary of the model's size: <unk>, the model's BOS and EOS as control
// tokens named as Llama's and Phi-3's are (llama.cpp looks some up by name for Phi-3), the 256 byte
// tokens, then placeholder pieces. Enough for both engines to load and run; the benchmarks feed token
// ids, not text.
function syntheticVocab(c: ModelConfig): GgufEntry[] {
  const named = new Map<number, string>([[c.bosTokenId ?? 1, '<s>']]);
  ['</s>', '<|endoftext|>'].forEach((text, i) => named.set(c.eosTokenIds[i] ?? c.vocabSize - 1 - i, text));
  const tokens: string[] = [], scores: number[] = [], types: number[] = [];
  let byte = 0;
  for (let i = 0; i < c.vocabSize; i++) {
    const [piece, type] = i === 0 ? ['<unk>', 2]
      : named.has(i) ? [named.get(i)!, 3]
      : byte < 256 ? [`<0x${(byte++).toString(16).toUpperCase().padStart(2, '0')}>`, 6]
      : [`\u2581t${i}`, 1];
    tokens.push(piece as string);
    types.push(type as number);
    scores.push(-i);
  }
  return [
    { key: 'tokenizer.ggml.model', type: GGUF_TYPE.string, value: 'llama' },
    { key: 'tokenizer.ggml.pre', type: GGUF_TYPE.string, value: 'default' },
    { key: 'tokenizer.ggml.tokens', type: GGUF_TYPE.array, itemType: GGUF_TYPE.string, value: tokens },
    { key: 'tokenizer.ggml.scores', type: GGUF_TYPE.array, itemType: GGUF_TYPE.f32, value: scores },
    { key: 'tokenizer.ggml.token_type', type: GGUF_TYPE.array, itemType: GGUF_TYPE.i32, value: types },
    { key: 'tokenizer.ggml.bos_token_id', type: GGUF_TYPE.u32, value: c.bosTokenId ?? 1 },
    { key: 'tokenizer.ggml.eos_token_id', type: GGUF_TYPE.u32, value: c.eosTokenIds[0] ?? 2 },
  ];
}
