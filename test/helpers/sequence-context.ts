// One sequence and its own KV cache, driven token by token: the tests' plainest way to run the
// model (golden logits, the oracle generator). Many sequences sharing one cache is the engine's job;
// both speak the same flat-batch forward.

import type { CausalLM, ForwardBatch } from '../../src/model/architectures/decoder.js';
import { UsageError } from '../../src/util/errors.js';
import type { KVCacheDType } from '../../src/kernels/kv-cache-dtype.js';
import { KVCacheStorage } from '../../src/engine/kv-cache/kv-cache-storage.js';

export class SequenceContext {
  private readonly cache: KVCacheStorage;
  private readonly blockTable: Int32Array;
  /** Tokens whose K/V are in the cache. */
  readonly tokens: number[] = [];
  private promptLen = 0;

  constructor(
    readonly model: CausalLM,
    readonly maxTokens: number,
    readonly blockSize = 16,
    /** f32 by default: this is the path the exactness tests take. */
    readonly kvCacheDType: KVCacheDType = 'f32',
  ) {
    const c = model.config;
    const numBlocks = Math.ceil(maxTokens / blockSize);
    this.cache = new KVCacheStorage(c, numBlocks, blockSize, kvCacheDType);
    this.blockTable = Int32Array.from({ length: numBlocks }, (_, i) => i);
  }

  reset(): void {
    this.tokens.length = 0;
  }

  /**
   * Appends `ids` to the sequence and returns logits [vocab] of the last one, or [ids.length, vocab]
   * of every one when `allLogits` is set.
   */
  eval(ids: readonly number[], allLogits = false): Float32Array {
    if (ids.length === 0) throw new UsageError('nothing to evaluate: empty token list');
    const start = this.tokens.length;
    const end = start + ids.length;
    if (end > this.maxTokens) {
      throw new UsageError(`sequence of ${end} tokens exceeds the context length of ${this.maxTokens}`);
    }
    const positions = Int32Array.from({ length: ids.length }, (_, i) => start + i);
    const batch: ForwardBatch = {
      tokenIds: Int32Array.from(ids),
      positions,
      slotMapping: Int32Array.from(positions, (p) => this.blockTable[Math.floor(p / this.blockSize)]! * this.blockSize + (p % this.blockSize)),
      seqs: [{ queryStart: 0, queryLen: ids.length, contextLen: end, blockTable: this.blockTable }],
      // The first evaluation is the prompt.
      promptLens: Int32Array.of(start === 0 ? ids.length : this.promptLen),
      logitsRows: allLogits ? Int32Array.from({ length: ids.length }, (_, i) => i) : Int32Array.of(ids.length - 1),
    };
    const logits = this.model.forward(batch, this.cache.layers, this.blockSize);
    if (start === 0) this.promptLen = ids.length;
    this.tokens.push(...ids);
    return logits;
  }
}
