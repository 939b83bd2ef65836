// KV-cache event batches on the wire, as vLLM publishes them: msgpack of msgspec's array-like structs,
// each event tagged by its class name, i.e. [ts, [[tag, ...fields]...], data_parallel_rank?] with
// BlockStored = [tag, block_hashes, parent_block_hash, token_ids, block_size, lora_id, medium] and
// BlockRemoved = [tag, block_hashes, medium]. Hashes travel as bytes (vLLM's ExternalBlockHash);
// integer hashes from older vLLM versions are read too, as decimal strings.

import { decode, encode } from '@msgpack/msgpack';
import type { KVCacheEvent } from '../kv-cache/kv-event-log.js';

export interface KVEventBatch {
  /** Seconds since the epoch. */
  ts: number;
  events: KVCacheEvent[];
  dataParallelRank: number | null;
}

const hashBytes = (hex: string) => Buffer.from(hex, 'hex');

export function encodeBatch(b: KVEventBatch): Uint8Array {
  const events = b.events.map((e) => {
    switch (e.type) {
      case 'BlockStored':
        return [e.type, e.blockHashes.map(hashBytes), e.parentBlockHash === null ? null : hashBytes(e.parentBlockHash), e.tokenIds, e.blockSize, null, null];
      case 'BlockRemoved':
        return [e.type, e.blockHashes.map(hashBytes), null];
      case 'AllBlocksCleared':
        return [e.type];
    }
  });
  return encode(b.dataParallelRank === null ? [b.ts, events] : [b.ts, events, b.dataParallelRank]);
}

function hashOf(v: unknown): string {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  throw new Error(`a block hash is ${typeof v}, not bytes or an integer`);
}

const isIntArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isInteger(x));

function eventOf(raw: unknown): KVCacheEvent {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') throw new Error('an event is not [tag, ...fields]');
  const [tag, hashes, parent, tokenIds, blockSize] = raw as unknown[];
  switch (tag) {
    case 'BlockStored':
      if (!Array.isArray(hashes) || !isIntArray(tokenIds) || !Number.isInteger(blockSize)) throw new Error('BlockStored lacks block_hashes, token_ids or block_size');
      return { type: tag, blockHashes: hashes.map(hashOf), parentBlockHash: parent === null || parent === undefined ? null : hashOf(parent), tokenIds, blockSize: blockSize as number };
    case 'BlockRemoved':
      if (!Array.isArray(hashes)) throw new Error('BlockRemoved lacks block_hashes');
      return { type: tag, blockHashes: hashes.map(hashOf) };
    case 'AllBlocksCleared':
      return { type: tag };
    default:
      throw new Error(`unknown KV event "${tag}"`);
  }
}

/** Throws on a payload that is not a KV event batch. */
export function decodeBatch(payload: Uint8Array): KVEventBatch {
  const raw = decode(payload, { useBigInt64: true });
  if (!Array.isArray(raw) || typeof raw[0] !== 'number' || !Array.isArray(raw[1])) throw new Error('a KV event batch is not [ts, events, ...]');
  const rank = raw[2];
  return { ts: raw[0], events: raw[1].map(eventOf), dataParallelRank: typeof rank === 'number' ? rank : null };
}
