// Messages between the engine and its grammar thread. Masks do not travel as messages: the grammar
// thread writes each sequence's next-token bitmask into its slot of shared memory and bumps the slot's
// epoch, which the engine waits on (Atomics) just before sampling.

import type { StructuredOutputs } from './structured-outputs.js';

export interface GrammarThreadData {
  /** Each token id's piece as the tokenizer's vocabulary spells it ('' for special tokens). */
  pieces: string[];
  encoding: 'byte_level' | 'byte_fallback';
  /** The model's vocabulary (logits row length): ids beyond the tokenizer's are never allowed. */
  vocabSize: number;
  stopTokenIds: number[];
  /** maxSlots x ceil(vocabSize / 32) int32 bitmasks. */
  masks: SharedArrayBuffer;
  /** maxSlots int32 epochs: a slot's mask is ready when its epoch reaches the one the engine expects. */
  epochs: SharedArrayBuffer;
  /** Speculative decoding: draftSlots x draftPositions bitmasks, the masks after each draft token. */
  draftMasks: SharedArrayBuffer;
  draftPositions: number;
  /** maxSlots int32: how many draft masks the slot's last drafts got (drafts up to the first the grammar refuses). */
  draftCounts: SharedArrayBuffer;
}

export type ToGrammar =
  | { type: 'compile'; key: string; spec: StructuredOutputs }
  /** A matcher for `key` in `slot`; its first mask follows. */
  | { type: 'open'; slot: number; key: string; epoch: number }
  /** Advance the slot's matcher by these tokens, then write its next mask. */
  | { type: 'accept'; slot: number; tokens: number[]; epoch: number }
  /**
   * Masks for the positions after each of these draft tokens (into the slot's draft masks), then the
   * matcher rolled back to where it was: verification decides which drafts stay.
   */
  | { type: 'drafts'; slot: number; tokens: number[]; epoch: number }
  | { type: 'close'; slot: number };

export type FromGrammar =
  | { type: 'compiled'; key: string }
  | { type: 'compile-failed'; key: string; message: string };
