// Turns one scheduler decision into one forward pass: the flat batch of token ids, positions, cache
// slots and block tables (vLLM's varlen layout), with logits computed only for the requests whose
// scheduled tokens reach their end (a prompt chunk in the middle needs none). A request's draft
// tokens follow its real ones, with logits at the last real token and at every draft, so all of them
// are verified by this one pass. Padding rows of a static batch run as one-token sequences writing to
// a scratch block nobody reads.

import type { AttentionSeq } from '../kernels/backend.js';
import type { CausalLM, ForwardBatch } from '../model/architectures/decoder.js';
import type { KVCacheDType } from '../kernels/kv-cache-dtype.js';
import { KVCacheStorage } from './kv-cache/kv-cache-storage.js';
import type { Request } from './request.js';
import type { ScheduledRequest } from './scheduler/scheduler.js';

export interface SampledRequest {
  req: Request;
  /** Drafts to verify; the request owns drafts.length + 1 consecutive rows of logits. */
  drafts: number[];
}

export interface ModelRunnerOutput {
  /** Requests to sample for, in the order of their rows of `logits`. */
  sampled: SampledRequest[];
  /** [sum of (drafts + 1), vocab] */
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
    const sampled: SampledRequest[] = [];

    let row = 0;
    for (const { req, numNewTokens, draftTokens = [] } of scheduled) {
      const start = req.numComputedTokens;
      const table = req.blockTable;
      const numReal = numNewTokens - draftTokens.length;
      for (let i = 0; i < numNewTokens; i++) {
        const pos = start + i;
        tokenIds[row + i] = i < numReal ? req.tokenIds[pos]! : draftTokens[i - numReal]!;
        positions[row + i] = pos;
        slotMapping[row + i] = table[Math.floor(pos / bs)]! * bs + (pos % bs);
      }
      const contextLen = start + numNewTokens;
      seqs.push({ queryStart: row, queryLen: numNewTokens, contextLen, blockTable: Int32Array.from(table.slice(0, Math.ceil(contextLen / bs))) });
      if (start + numReal === req.numTokens) {
        for (let i = numReal - 1; i < numNewTokens; i++) logitsRows.push(row + i);
        sampled.push({ req, drafts: draftTokens });
      }
      row += numNewTokens;
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
