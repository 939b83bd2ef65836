// What changed in the prefix cache since the last step, in the shape of vLLM's KV-cache events: a run
// of blocks became findable (BlockStored, with its parent and its tokens, so a subscriber can follow
// the chain), blocks stopped being findable (BlockRemoved), or everything went (AllBlocksCleared).
// A block "is stored" exactly while the pool's index holds its hash.

export interface BlockStored {
  type: 'BlockStored';
  /** Prefix hashes (hex), parent first. */
  blockHashes: string[];
  parentBlockHash: string | null;
  tokenIds: number[];
  blockSize: number;
}

export interface BlockRemoved {
  type: 'BlockRemoved';
  blockHashes: string[];
}

export interface AllBlocksCleared {
  type: 'AllBlocksCleared';
}

export type KVCacheEvent = BlockStored | BlockRemoved | AllBlocksCleared;

export class KVEventLog {
  private events: KVCacheEvent[] = [];

  stored(blockHashes: string[], parentBlockHash: string | null, tokenIds: number[], blockSize: number): void {
    this.events.push({ type: 'BlockStored', blockHashes, parentBlockHash, tokenIds, blockSize });
  }

  /** Consecutive removals (one eviction sweep) travel as one event. */
  removed(hash: string): void {
    const last = this.events.at(-1);
    if (last?.type === 'BlockRemoved') last.blockHashes.push(hash);
    else this.events.push({ type: 'BlockRemoved', blockHashes: [hash] });
  }

  cleared(): void {
    this.events.push({ type: 'AllBlocksCleared' });
  }

  get pending(): number {
    return this.events.length;
  }

  /** The events since the last drain, oldest first. */
  drain(): KVCacheEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }
}
