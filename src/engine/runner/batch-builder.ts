// The flat batch of one forward pass (vLLM's varlen layout): token ids, positions, cache slots and
// block tables of any number of sequence parts side by side. The model runner and the draft model
// build their passes here.

import type { AttentionSeq } from '../../kernels/backend.js';
import type { ForwardBatch } from '../../model/architectures/decoder.js';

/** A run of consecutive tokens of one sequence, starting at position `start`. */
export interface BatchPart {
  tokenIds: ArrayLike<number>;
  start: number;
  blockTable: readonly number[] | Int32Array;
  /** Rows of this part (from 0) whose logits are wanted: from this one to its end. */
  logitsFrom: number;
  /** The sequence's prompt length (LongRoPE picks its factors by it). */
  promptLen?: number;
  /** Rows of this part whose final hidden states are wanted, as [first, count] (embeddings). */
  hiddenRows?: readonly [number, number];
}

export class BatchBuilder {
  constructor(readonly blockSize: number) {}

  /**
   * `padding` rows run as one-token sequences writing to `scratchBlock` (nobody reads it): the waste a
   * padded static batch computes.
   */
  build(parts: readonly BatchPart[], padding = 0, scratchBlock = -1): ForwardBatch {
    const bs = this.blockSize;
    const rows = parts.reduce((n, p) => n + p.tokenIds.length, 0) + padding;
    const tokenIds = new Int32Array(rows);
    const positions = new Int32Array(rows);
    const slotMapping = new Int32Array(rows);
    const seqs: AttentionSeq[] = [];
    const logitsRows: number[] = [];
    const hiddenRows: number[] = [];
    const promptLens: number[] = [];
    let row = 0;
    for (const p of parts) {
      const n = p.tokenIds.length;
      for (let i = 0; i < n; i++) {
        const pos = p.start + i;
        tokenIds[row + i] = p.tokenIds[i]!;
        positions[row + i] = pos;
        slotMapping[row + i] = p.blockTable[Math.floor(pos / bs)]! * bs + (pos % bs);
      }
      const contextLen = p.start + n;
      seqs.push({ queryStart: row, queryLen: n, contextLen, blockTable: Int32Array.from(p.blockTable.slice(0, Math.ceil(contextLen / bs))) });
      promptLens.push(p.promptLen ?? contextLen);
      for (let i = p.logitsFrom; i < n; i++) logitsRows.push(row + i);
      const [first, count] = p.hiddenRows ?? [0, 0];
      for (let i = first; i < first + count; i++) hiddenRows.push(row + i);
      row += n;
    }
    const scratchTable = Int32Array.of(scratchBlock);
    for (; row < rows; row++) {
      slotMapping[row] = scratchBlock * bs;
      seqs.push({ queryStart: row, queryLen: 1, contextLen: 1, blockTable: scratchTable });
      promptLens.push(1);
    }
    return {
      tokenIds, positions, slotMapping, seqs, logitsRows: Int32Array.from(logitsRows), promptLens: Int32Array.from(promptLens),
      ...(hiddenRows.length > 0 ? { hiddenRows: Int32Array.from(hiddenRows) } : {}),
    };
  }
}
