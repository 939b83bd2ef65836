// The pool of KV-cache blocks: reference counts, the free queue, and the prefix-cache index.
// A block whose count drops to zero goes to the back of the free queue but keeps its hash, so a later
// request with the same prefix can take it back; allocation takes from the front, which evicts the
// least recently freed cached block first.

import type { KVEventLog } from './kv-event-log.js';

export class KVBlock {
  refCount = 0;
  /** Set once the block is full and prefix caching is on. */
  hash: string | null = null;
  constructor(readonly id: number) {}
}

export class BlockPool {
  readonly blocks: KVBlock[];
  /** Free blocks in eviction order (a Set iterates in insertion order). */
  private readonly free = new Set<KVBlock>();
  private readonly cached = new Map<string, KVBlock>();
  evictions = 0;
  /** Where hashes leaving the index are reported (KV-cache events), when someone listens. */
  events: KVEventLog | null = null;

  constructor(readonly numBlocks: number) {
    this.blocks = Array.from({ length: numBlocks }, (_, i) => new KVBlock(i));
    for (const b of this.blocks) this.free.add(b);
  }

  get numFree(): number {
    return this.free.size;
  }

  get numCached(): number {
    return this.cached.size;
  }

  /** Takes `n` blocks off the free queue (evicting cached ones), or returns null if there are not enough. */
  allocate(n: number): KVBlock[] | null {
    if (n > this.free.size) return null;
    const out: KVBlock[] = [];
    for (const b of this.free) {
      if (out.length === n) break;
      out.push(b);
    }
    for (const b of out) {
      this.free.delete(b);
      if (b.hash !== null) {
        this.cached.delete(b.hash);
        this.events?.removed(b.hash);
        b.hash = null;
        this.evictions++;
      }
      b.refCount = 1;
    }
    return out;
  }

  /** The cached block with this prefix hash, if it is still in the pool. */
  lookup(hash: string): KVBlock | undefined {
    return this.cached.get(hash);
  }

  /** Adds a reference to cached blocks, taking them back off the free queue if unreferenced. */
  touch(blocks: readonly KVBlock[]): void {
    for (const b of blocks) {
      if (b.refCount === 0) this.free.delete(b);
      b.refCount++;
    }
  }

  /** Drops one reference from each block; callers pass a sequence's blocks tail first, so its tail is evicted first. */
  release(blocks: readonly KVBlock[]): void {
    for (const b of blocks) {
      if (b.refCount <= 0) throw new Error(`internal error: block ${b.id} released more often than taken`);
      if (--b.refCount === 0) this.free.add(b);
    }
  }

  /** Makes a full block findable by its prefix hash (the first block with a given hash wins); true if it became findable. */
  register(block: KVBlock, hash: string): boolean {
    if (block.hash !== null || this.cached.has(hash)) return false;
    block.hash = hash;
    this.cached.set(hash, block);
    return true;
  }

  /** Removes one block from the prefix-cache index. */
  forget(block: KVBlock): void {
    if (block.hash === null) return;
    this.cached.delete(block.hash);
    this.events?.removed(block.hash);
    block.hash = null;
  }

  /**
   * Consistency problems, given how many references each block should have (empty when all is well):
   * the free queue must hold exactly the unreferenced blocks, and the index only blocks with that hash.
   */
  audit(expectedRefs: ReadonlyMap<number, number>): string[] {
    const problems: string[] = [];
    for (const b of this.blocks) {
      const want = expectedRefs.get(b.id) ?? 0;
      if (b.refCount !== want) problems.push(`block ${b.id}: refCount ${b.refCount}, held by ${want}`);
      if ((b.refCount === 0) !== this.free.has(b)) problems.push(`block ${b.id}: refCount ${b.refCount} but ${this.free.has(b) ? '' : 'not '}in the free queue`);
      if (b.hash !== null && this.cached.get(b.hash) !== b) problems.push(`block ${b.id}: hash not indexed`);
    }
    for (const [hash, b] of this.cached) if (b.hash !== hash) problems.push(`index entry ${hash.slice(0, 8)} points at block ${b.id} with another hash`);
    return problems;
  }
}
