// Which blocks each request holds. Admission looks up the longest cached prefix of full blocks;
// every step then makes sure a request's block table covers the tokens scheduled for it, and
// registers the blocks those tokens fill, so later requests (and this one, after preemption) can
// reuse them.

import type { Request } from '../request.js';
import { extendBlockHashes } from './block-hash.js';
import { BlockPool, type KVBlock } from './block-pool.js';
import { KVEventLog } from './kv-event-log.js';

export interface PrefixCacheStats {
  /** Prompt tokens looked up in the prefix cache. */
  queries: number;
  /** Of those, tokens found. */
  hits: number;
}

export interface CachedPrefix {
  blocks: KVBlock[];
  numTokens: number;
}

const NO_PREFIX: CachedPrefix = { blocks: [], numTokens: 0 };

export class KVCacheManager {
  readonly pool: BlockPool;
  readonly stats: PrefixCacheStats = { queries: 0, hits: 0 };
  private readonly held = new Map<Request, KVBlock[]>();
  /** Blocks held by no request: a finished prefill's lease, a pull in progress. */
  private readonly holds = new Map<string, KVBlock[]>();
  /** Request id -> the lease its prompt blocks go under when it finishes (prefill/decode disaggregation). */
  private readonly leaseOnFinish = new Map<string, string>();

  constructor(
    readonly numBlocks: number,
    readonly blockSize: number,
    readonly enablePrefixCaching: boolean,
  ) {
    this.pool = new BlockPool(numBlocks);
  }

  /** Fraction of blocks in use by some request (cached-but-free blocks count as free). */
  get usage(): number {
    return 1 - this.pool.numFree / this.numBlocks;
  }

  /**
   * The longest run of the request's leading full blocks already in the cache. At least one token is
   * always left to compute, because the step that computes it produces the logits to sample from.
   * An embedding request pooled over more than its last token, or one that wants prompt logprobs,
   * computes every token.
   */
  findCachedPrefix(req: Request): CachedPrefix {
    const everyRow = (req.pooling && req.pooling.type !== 'last') || req.params.promptLogprobs !== undefined;
    if (!this.enablePrefixCaching || everyRow) return NO_PREFIX;
    extendBlockHashes(req.blockHashes, req.tokenIds, this.blockSize, req.cacheSalt);
    const maxBlocks = Math.floor((req.numTokens - 1) / this.blockSize);
    const blocks: KVBlock[] = [];
    for (let i = 0; i < maxBlocks; i++) {
      const b = this.pool.lookup(req.blockHashes[i]!);
      if (!b) break;
      blocks.push(b);
    }
    return { blocks, numTokens: blocks.length * this.blockSize };
  }

  /** Counts one admission's lookup (only admissions count, not retries of a request that did not fit). */
  recordLookup(queriedTokens: number, hitTokens: number): void {
    if (!this.enablePrefixCaching) return;
    this.stats.queries += queriedTokens;
    this.stats.hits += hitTokens;
  }

  /**
   * Grows the request's block table to hold `numNewTokens` more tokens (after `prefix`, on admission),
   * plus `numLookahead` slots beyond them that no hash covers yet (draft tokens' K/V). Returns false,
   * changing nothing, when the pool cannot supply the blocks.
   */
  allocateSlots(req: Request, numNewTokens: number, prefix: CachedPrefix = NO_PREFIX, numLookahead = 0): boolean {
    const held = this.held.get(req) ?? [];
    const computedAfterPrefix = prefix.blocks.length > 0 ? prefix.numTokens : req.numComputedTokens;
    const total = computedAfterPrefix + numNewTokens;
    const needed = Math.ceil((total + numLookahead) / this.blockSize) - held.length - prefix.blocks.length;
    const prefixFromFree = prefix.blocks.filter((b) => b.refCount === 0).length;
    if (needed > this.pool.numFree - prefixFromFree) return false;

    this.pool.touch(prefix.blocks);
    held.push(...prefix.blocks);
    if (needed > 0) held.push(...this.pool.allocate(needed)!);
    this.held.set(req, held);
    req.blockTable = held.map((b) => b.id);

    if (this.enablePrefixCaching) {
      // Hashes depend only on token ids, so a block can be registered as soon as the tokens that
      // fill it are scheduled: the step writes their K/V before any attention reads them.
      extendBlockHashes(req.blockHashes, req.tokenIds, this.blockSize, req.cacheSalt);
      const full = Math.min(Math.floor(total / this.blockSize), req.blockHashes.length);
      this.registerBlocks(held, req.blockHashes, 0, full, req.tokenIds);
    }
    return true;
  }

  /** Starts reporting the prefix cache's changes (KV-cache events); the log is drained by its reader. */
  recordEvents(): KVEventLog {
    return (this.pool.events ??= new KVEventLog());
  }

  /**
   * Makes blocks `from..to` of a prompt findable: `blocks[i - from]` holds block i, whose hash is
   * `hashes[i]` and whose tokens are `tokenIds[i * blockSize..]`. Each run that became findable is one
   * BlockStored event.
   */
  registerBlocks(blocks: readonly KVBlock[], hashes: readonly string[], from: number, to: number, tokenIds: readonly number[], offset = from): void {
    const log = this.pool.events;
    let runStart = -1;
    const flush = (end: number) => {
      if (runStart < 0) return;
      log!.stored(hashes.slice(runStart, end), runStart > 0 ? hashes[runStart - 1]! : null, tokenIds.slice(runStart * this.blockSize, end * this.blockSize), this.blockSize);
      runStart = -1;
    };
    for (let i = from; i < to; i++) {
      const fresh = this.pool.register(blocks[i - offset]!, hashes[i]!);
      if (!log) continue;
      if (fresh && runStart < 0) runStart = i;
      else if (!fresh) flush(i);
    }
    if (log) flush(to);
  }

  /**
   * Releases all of the request's blocks, tail first (the tail is the least likely to be shared).
   * Blocks registered for tokens that were scheduled but never computed (a request preempted in the
   * step that scheduled them) are dropped from the index, so nobody reuses K/V that was never written.
   */
  free(req: Request): void {
    const held = this.held.get(req);
    const lease = req.status === 'finished' ? this.leaseOnFinish.get(req.id) : undefined;
    if (req.status === 'finished') this.leaseOnFinish.delete(req.id);
    // A prefill for a remote decode keeps the full blocks the decode side can use; an abort keeps none.
    if (held && lease !== undefined && req.finishReason !== 'abort') this.hold(lease, held.slice(0, Math.floor((req.numPromptTokens - 1) / this.blockSize)), true);
    if (held) {
      this.pool.release([...held].reverse());
      const computedBlocks = Math.floor(req.numComputedTokens / this.blockSize);
      for (let i = computedBlocks; i < held.length; i++) if (held[i]!.refCount === 0) this.pool.forget(held[i]!);
    }
    this.held.delete(req);
    req.blockTable = [];
  }

  /** When request `id` finishes (not aborted), its usable prompt blocks are held under `leaseId`. */
  leaseWhenFinished(id: string, leaseId: string): void {
    this.leaseOnFinish.set(id, leaseId);
  }

  /** Holds `blocks` under `key` (`addRef`: they are someone else's too; else freshly allocated ones). */
  hold(key: string, blocks: KVBlock[], addRef: boolean): void {
    if (addRef) this.pool.touch(blocks);
    this.holds.set(key, blocks);
  }

  heldUnder(key: string): readonly KVBlock[] | undefined {
    return this.holds.get(key);
  }

  /** Lets go of a hold (its blocks stay cached if registered); false if there was none. */
  releaseHold(key: string): boolean {
    const blocks = this.holds.get(key);
    if (!blocks) return false;
    this.holds.delete(key);
    this.pool.release([...blocks].reverse());
    return true;
  }

  get numRequestsHoldingBlocks(): number {
    return this.held.size;
  }

  /** Accounting problems between the requests' block tables and the pool (empty when consistent). */
  audit(): string[] {
    const refs = new Map<number, number>();
    const problems: string[] = [];
    for (const [req, blocks] of this.held) {
      if (req.blockTable.length !== blocks.length || blocks.some((b, i) => req.blockTable[i] !== b.id)) problems.push(`request ${req.id}: block table out of date`);
      for (const b of blocks) refs.set(b.id, (refs.get(b.id) ?? 0) + 1);
    }
    for (const blocks of this.holds.values()) for (const b of blocks) refs.set(b.id, (refs.get(b.id) ?? 0) + 1);
    return [...problems, ...this.pool.audit(refs)];
  }
}
