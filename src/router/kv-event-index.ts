// The router's exact view of what each worker's prefix cache holds, kept from the workers' KV-cache
// events. A worker names its blocks by its own hashes (they may be salted, or come from another
// engine); the router renames each stored block by a hash of its parent's name and its tokens, so the
// same prefix has the same name on every worker and a request's name chain is computed once. Blocks
// of requests the router has sent but whose events have not come back count as held too, so a burst
// sharing a new prefix sticks to one worker before the first of them is computed; they keep counting
// for a while after the answer, since the events travel apart from it and may come later.

import { hashBlock } from '../engine/kv-cache/block-hash.js';
import type { KVCacheEvent } from '../engine/kv-cache/kv-event-log.js';

const inc = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
const dec = (m: Map<string, number>, k: string) => {
  const n = (m.get(k) ?? 0) - 1;
  if (n > 0) m.set(k, n);
  else m.delete(k);
};

export class WorkerKVView {
  /** The worker's block hash -> the router's name for that block. */
  private readonly names = new Map<string, string>();
  /** Names held (a count: salted hashes of one prefix share a name). */
  private readonly held = new Map<string, number>();
  /** Names of blocks of requests in flight here. */
  private readonly routed = new Map<string, number>();
  /** Stored blocks whose parent the router never saw (events lost); left out of the view. */
  orphans = 0;

  constructor(private readonly index: KVEventIndex) {}

  /** Blocks the worker's prefix cache holds now, as far as its events say. */
  get numBlocks(): number {
    return this.names.size;
  }

  /** Tokens held: the tie-break between workers that match nothing. */
  get size(): number {
    return this.names.size * this.index.blockSize;
  }

  apply(e: KVCacheEvent): void {
    switch (e.type) {
      case 'BlockStored': {
        this.index.blockSize = e.blockSize;
        let parent = e.parentBlockHash === null ? null : this.names.get(e.parentBlockHash);
        if (parent === undefined) {
          this.orphans += e.blockHashes.length;
          return;
        }
        e.blockHashes.forEach((h, i) => {
          const name = hashBlock(parent as string | null, e.tokenIds, i * e.blockSize, e.blockSize);
          if (!this.names.has(h)) {
            this.names.set(h, name);
            inc(this.held, name);
          }
          parent = name;
        });
        return;
      }
      case 'BlockRemoved':
        for (const h of e.blockHashes) {
          const name = this.names.get(h);
          if (name === undefined) continue;
          this.names.delete(h);
          dec(this.held, name);
        }
        return;
      case 'AllBlocksCleared':
        this.clear();
    }
  }

  clear(): void {
    this.names.clear();
    this.held.clear();
  }

  /** How many leading tokens of `tokens` the worker holds (whole blocks) or is computing for the router. */
  matchLength(tokens: readonly number[]): number {
    let n = 0;
    for (const name of this.index.chainOf(tokens)) {
      if (!this.held.has(name) && !this.routed.has(name)) break;
      n++;
    }
    return n * this.index.blockSize;
  }

  /** A request with these tokens went here; `done` when it has finished. Its blocks not yet in the events linger for `index.lingerMs`. */
  routedHere(tokens: readonly number[]): () => void {
    const chain = this.index.chainOf(tokens);
    for (const name of chain) inc(this.routed, name);
    return () => {
      const pending: string[] = [];
      for (const name of chain) {
        if (this.held.has(name)) dec(this.routed, name);
        else pending.push(name);
      }
      if (pending.length === 0) return;
      setTimeout(() => {
        for (const name of pending) dec(this.routed, name);
      }, this.index.lingerMs).unref();
    };
  }
}

export class KVEventIndex {
  private readonly views = new Map<string, WorkerKVView>();
  /** Tokens per block, from a worker's /load or the first BlockStored event (0: neither yet, so nothing matches). */
  blockSize = 0;

  /** @param lingerMs how long a finished request's blocks count for its worker while their events are awaited. */
  constructor(readonly lingerMs = 5000) {}

  private lastTokens: readonly number[] | null = null;
  private lastChain: string[] = [];
  private lastBlockSize = 0;

  viewOf(worker: string): WorkerKVView {
    let v = this.views.get(worker);
    if (!v) this.views.set(worker, (v = new WorkerKVView(this)));
    return v;
  }

  numBlocksOf(worker: string): number {
    return this.views.get(worker)?.numBlocks ?? 0;
  }

  drop(worker: string): void {
    this.views.delete(worker);
  }

  /** The names of the full blocks of `tokens` (kept for the last array asked, which every worker asks about in turn). */
  chainOf(tokens: readonly number[]): string[] {
    const bs = this.blockSize;
    if (tokens === this.lastTokens && bs === this.lastBlockSize) return this.lastChain;
    const chain: string[] = [];
    if (bs > 0) for (let b = 0; (b + 1) * bs <= tokens.length; b++) chain.push(hashBlock(b > 0 ? chain[b - 1]! : null, tokens, b * bs, bs));
    this.lastTokens = tokens;
    this.lastChain = chain;
    this.lastBlockSize = bs;
    return chain;
  }
}
