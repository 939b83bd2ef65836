// Turns one scheduler decision into one forward pass: the flat batch of token ids, positions, cache
// slots and block tables (vLLM's varlen layout), with logits computed only for the requests whose
// scheduled tokens reach their end (a prompt chunk in the middle needs none). Padding rows of a
// static batch run as one-token sequences writing to a scratch block nobody reads.

import type { AttentionSeq } from '../kernels/backend.js';
import type { CausalLM, ForwardBatch } from '../model/architectures/decoder.js';
import type { KVCacheDType } from '../kernels/kv-cache-dtype.js';
import { KVCacheStorage } from './kv-cache/kv-cache-storage.js';
import type { Request } from './request.js';
import type { ScheduledRequest } from './scheduler/scheduler.js';

export interface ModelRunnerOutput {
  /** Requests to sample for, in the order of the rows of `logits`. */
  sampled: Request[];
  /** [sampled.length, vocab] */
  logits: Float32Array;
}

export class ModelRunner {
  readonly cache: KVCacheStorage;
  private readonly scratchBlock: number;

  constructor(
    readonly model: CausalLM,
    readonly numBlocks: number,
    readonly blockSize: number,
    kvCacheDtype: KVCacheDType,
  ) {
    // One block beyond the pool's: the scratch block for padding rows.
    this.cache = new KVCacheStorage(model.config, numBlocks + 1, blockSize, kvCacheDtype);
    this.scratchBlock = numBlocks;
  }

  run(scheduled: readonly ScheduledRequest[], paddingRows = 0): ModelRunnerOutput {
    const bs = this.blockSize;
    const rows = scheduled.reduce((n, s) => n + s.numNewTokens, 0) + paddingRows;
    const tokenIds = new Int32Array(rows);
    const positions = new Int32Array(rows);
    const slotMapping = new Int32Array(rows);
    const seqs: AttentionSeq[] = [];
    const logitsRows: number[] = [];
    const sampled: Request[] = [];

    let row = 0;
    for (const { req, numNewTokens } of scheduled) {
      const start = req.numComputedTokens;
      const table = req.blockTable;
      for (let i = 0; i < numNewTokens; i++) {
        const pos = start + i;
        tokenIds[row + i] = req.tokenIds[pos]!;
        positions[row + i] = pos;
        slotMapping[row + i] = table[Math.floor(pos / bs)]! * bs + (pos % bs);
      }
      const contextLen = start + numNewTokens;
      seqs.push({ queryStart: row, queryLen: numNewTokens, contextLen, blockTable: Int32Array.from(table.slice(0, Math.ceil(contextLen / bs))) });
      row += numNewTokens;
      if (contextLen === req.numTokens) {
        logitsRows.push(row - 1);
        sampled.push(req);
      }
    }
    const scratchTable = Int32Array.of(this.scratchBlock);
    for (; row < rows; row++) {
      slotMapping[row] = this.scratchBlock * bs;
      seqs.push({ queryStart: row, queryLen: 1, contextLen: 1, blockTable: scratchTable });
    }

    const batch: ForwardBatch = { tokenIds, positions, slotMapping, seqs, logitsRows: Int32Array.from(logitsRows) };
    const logits = this.model.forward(batch, this.cache.layers, bs);
    return { sampled, logits };
  }
}
