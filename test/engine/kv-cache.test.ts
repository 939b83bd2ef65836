// The block pool and the KV-cache manager: reference counts, eviction order, chained block hashes,
// prefix lookups that always leave a token to compute, and blocks never reused before they are written.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashBlock } from '../../src/engine/kv-cache/block-hash.js';
import { BlockPool } from '../../src/engine/kv-cache/block-pool.js';
import { KVCacheManager } from '../../src/engine/kv-cache/kv-cache-manager.js';
import { KVCacheStorage } from '../../src/engine/kv-cache/kv-cache-storage.js';
import { kvHeadBytes } from '../../src/kernels/kv-cache-dtype.js';
import { loadNativeAddon } from '../../src/kernels/native/native-addon.js';
import { Request } from '../../src/engine/request.js';
import { Rng } from '../../src/util/rng.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';

let arrivals = 0;
function request(tokens: number[]): Request {
  const params = makeSamplingParams();
  return new Request(`r${arrivals}`, tokens, params, 0, arrivals++, new Rng(0));
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('BlockPool', () => {
  it('counts references and evicts the least recently freed cached block first', () => {
    const pool = new BlockPool(4);
    const [a, b, c] = pool.allocate(3)!;
    assert.equal(pool.numFree, 1);
    assert.equal(pool.allocate(2), null, 'not enough blocks: nothing is taken');
    pool.register(a!, 'ha');
    pool.register(b!, 'hb');
    pool.touch([a!]);
    pool.release([a!]);
    assert.equal(pool.numFree, 1, 'a is still referenced once');
    pool.release([b!, a!]);
    assert.equal(pool.numFree, 3);
    assert.equal(pool.lookup('ha'), a, 'a freed block stays findable');
    // Free order is now: block 3 (never used), b, a. Taking two evicts b but keeps a.
    const taken = pool.allocate(2)!;
    assert.deepEqual(taken.map((x) => x.id), [3, b!.id]);
    assert.equal(pool.lookup('hb'), undefined);
    assert.equal(pool.lookup('ha'), a);
    assert.equal(pool.evictions, 1);
    pool.touch([a!]);
    assert.equal(pool.numFree, 0, 'a prefix hit takes a free cached block back');
    assert.throws(() => pool.release([c!, c!]), /released more often/);
  });
});

describe('block hashes', () => {
  it('chain the parent: equal blocks after different prefixes hash differently', () => {
    const x = [1, 2, 3, 4, 5, 6, 7, 8];
    const y = [9, 9, 9, 9, 5, 6, 7, 8];
    assert.equal(hashBlock(null, x, 4, 4), hashBlock(null, y, 4, 4));
    assert.notEqual(hashBlock(hashBlock(null, x, 0, 4), x, 4, 4), hashBlock(hashBlock(null, y, 0, 4), y, 4, 4));
  });
});

describe('KVCacheManager', () => {
  it('reuses full prefix blocks and always leaves at least one token to compute', () => {
    const kv = new KVCacheManager(16, 4, true);
    const first = request(range(12));
    assert.ok(kv.allocateSlots(first, 12));
    first.numComputedTokens = 12;
    assert.equal(kv.pool.numCached, 3);

    const same = request(range(12));
    const prefix = kv.findCachedPrefix(same);
    assert.equal(prefix.numTokens, 8, 'the whole 12-token prompt is cached, but the last block is recomputed');
    const longer = request([...range(12), 50, 51]);
    assert.equal(kv.findCachedPrefix(longer).numTokens, 12);
    const diverging = request([...range(6), 99, ...range(5, 7)]);
    assert.equal(kv.findCachedPrefix(diverging).numTokens, 4);

    assert.ok(kv.allocateSlots(longer, 2, kv.findCachedPrefix(longer)));
    assert.deepEqual(longer.blockTable.slice(0, 3), first.blockTable);
    assert.equal(kv.pool.blocks[first.blockTable[0]!]!.refCount, 2);
    longer.numComputedTokens = 14;
    kv.free(first);
    kv.free(longer);
    assert.equal(kv.pool.numFree, 16);
    assert.equal(kv.findCachedPrefix(request(range(13))).numTokens, 12, 'freed blocks stay cached');
  });

  it('does not keep blocks findable whose tokens were scheduled but never computed', () => {
    const kv = new KVCacheManager(8, 4, true);
    const r = request(range(10));
    assert.ok(kv.allocateSlots(r, 10));
    assert.equal(kv.pool.numCached, 2);
    kv.free(r); // preempted before its step ran: numComputedTokens is still 0
    assert.equal(kv.pool.numCached, 0);
    assert.equal(kv.findCachedPrefix(request(range(10))).numTokens, 0);
  });

  it('fails an allocation without side effects when the pool is short', () => {
    const kv = new KVCacheManager(3, 4, false);
    const a = request(range(8));
    assert.ok(kv.allocateSlots(a, 8));
    const b = request(range(8, 100));
    assert.equal(kv.allocateSlots(b, 8), false);
    assert.deepEqual(b.blockTable, []);
    assert.equal(kv.pool.numFree, 1);
    a.numComputedTokens = 8;
    a.appendOutput(7);
    assert.ok(kv.allocateSlots(a, 1), 'the ninth token opens a third block');
    assert.equal(a.blockTable.length, 3);
    assert.equal(kv.usage, 1);
  });
});

describe('KVCacheStorage', () => {
  it('gives every layer its own zero-filled K and V pools, several layers to one huge-page region', () => {
    const shape = { numLayers: 5, numKvHeads: 2, headDim: 8 };
    const storage = new KVCacheStorage(shape, 3, 4, 'f16');
    const bytes = 3 * 4 * 2 * kvHeadBytes('f16', 8);
    const pools = storage.layers.flatMap((l) => [l.k, l.v]);
    assert.equal(new Set(pools).size, 10);
    for (const p of pools) {
      assert.equal(p.byteLength, bytes);
      assert.ok(p.every((b) => b === 0));
    }
    pools.forEach((p, i) => p.fill(i + 1));
    pools.forEach((p, i) => assert.ok(p.every((b) => b === i + 1), `pool ${i} was written by a neighbour`));
    if (loadNativeAddon().ok) assert.equal(storage.layers[0]!.k.buffer, storage.layers[4]!.v.buffer, 'one region for these small pools');
  });

  it('gives latent attention one pool per layer, serving as K and V', () => {
    const mla = { kvLoraRank: 8, qkRopeHeadDim: 8, qkNopeHeadDim: 8, vHeadDim: 8, qLoraRank: null } as never;
    const storage = new KVCacheStorage({ numLayers: 3, numKvHeads: 1, headDim: 16, mla }, 2, 4, 'f32');
    for (const l of storage.layers) assert.equal(l.k, l.v);
    assert.equal(new Set(storage.layers.map((l) => l.k)).size, 3);
  });
});
