// The decoder keys every llama.cpp architecture of the Llama family reads under its own prefix, as its
// converter writes them from a config.

import type { ModelConfig } from '../config.js';
import { GGUF_TYPE, type GgufEntry } from '../loaders/gguf-writer.js';

/** `withVocabSize`: the HF converter's vocab_size key too, in its place. */
export function decoderMetadata(arch: string, c: ModelConfig, withVocabSize = false): GgufEntry[] {
  const u32 = (key: string, value: number): GgufEntry => ({ key: `${arch}.${key}`, type: GGUF_TYPE.u32, value });
  const f32 = (key: string, value: number): GgufEntry => ({ key: `${arch}.${key}`, type: GGUF_TYPE.f32, value });
  return [
    u32('block_count', c.numLayers),
    u32('context_length', c.maxPositions),
    u32('embedding_length', c.hiddenSize),
    u32('feed_forward_length', c.intermediateSize),
    u32('attention.head_count', c.numHeads),
    u32('attention.head_count_kv', c.numKvHeads),
    f32('rope.freq_base', c.rope?.theta ?? 10000),
    f32('attention.layer_norm_rms_epsilon', c.normEps),
    u32('attention.key_length', c.headDim),
    u32('attention.value_length', c.headDim),
    ...(withVocabSize ? [u32('vocab_size', c.vocabSize)] : []),
    u32('rope.dimension_count', c.rope?.rotaryDim ?? c.headDim),
    ...(c.slidingWindow > 0 && arch !== 'llama' ? [u32('attention.sliding_window', c.slidingWindow)] : []),
  ];
}
