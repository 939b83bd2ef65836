// The pieces of prefill/decode disaggregation that need no second process: leases and holds in the KV
// manager (in its audit, freed on release, none for an abort), block bytes out of one cache and into
// another for every dtype, and the flags, vLLM's JSON and kv_transfer_params, with their errors.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KVCacheManager } from '../../../src/engine/kv-cache/kv-cache-manager.js';
import { KVCacheStorage } from '../../../src/engine/kv-cache/kv-cache-storage.js';
import { blockGeometry, framesProblem, readBlocks, writeBlocks } from '../../../src/engine/kv-transfer/kv-block-copy.js';
import { parseKVTransferConfigJson, parseKVTransferParams, remoteBlocksParams } from '../../../src/engine/kv-transfer/kv-transfer-config.js';
import { kvTransferFromFlags } from '../../../src/cli/kv-transfer-flags.js';
import { Request } from '../../../src/engine/request.js';
import { makeSamplingParams } from '../../../src/engine/sampling/sampling-params.js';
import { Rng } from '../../../src/util/rng.js';
import { UsageError } from '../../../src/util/errors.js';

let arrivals = 0;
const request = (n: number) => new Request(`r${arrivals}`, Array.from({ length: n }, (_, i) => i + 1), makeSamplingParams(), 0, arrivals++, new Rng(0));

describe('KV leases and holds', () => {
  it('a finished prefill keeps its usable full blocks under its lease until released; the audit counts them', () => {
    const kv = new KVCacheManager(16, 4, true);
    const req = request(13); // 3 full blocks + 1 token; (13 - 1) / 4 = 3 usable
    kv.leaseWhenFinished(req.id, 'lease-1');
    assert.ok(kv.allocateSlots(req, 13));
    req.numComputedTokens = 13;
    req.status = 'finished';
    req.finishReason = 'length';
    kv.free(req);
    assert.equal(kv.heldUnder('lease-1')!.length, 3);
    assert.equal(kv.pool.numFree, 13);
    assert.deepEqual(kv.audit(), []);
    assert.ok(kv.releaseHold('lease-1'));
    assert.equal(kv.releaseHold('lease-1'), false);
    assert.equal(kv.pool.numFree, 16);
    assert.equal(kv.usage, 0);
    assert.deepEqual(kv.audit(), []);
  });

  it('an aborted prefill, or one preempted, leaves no lease', () => {
    const kv = new KVCacheManager(16, 4, true);
    const req = request(13);
    kv.leaseWhenFinished(req.id, 'lease-2');
    assert.ok(kv.allocateSlots(req, 13));
    kv.free(req); // preempted: still running, so the lease waits for the finish
    assert.equal(kv.heldUnder('lease-2'), undefined);
    assert.ok(kv.allocateSlots(req, 13));
    req.status = 'finished';
    req.finishReason = 'abort';
    kv.free(req);
    assert.equal(kv.heldUnder('lease-2'), undefined);
    assert.equal(kv.pool.numFree, 16);
    assert.deepEqual(kv.audit(), []);
  });

  it('a hold is in the audit: a block released behind its back is reported', () => {
    const kv = new KVCacheManager(8, 4, true);
    kv.hold('pull:x', kv.pool.allocate(2)!, false);
    assert.deepEqual(kv.audit(), []);
    kv.pool.release([kv.heldUnder('pull:x')![0]!]);
    assert.match(kv.audit().join('; '), /refCount 0, held by 1/);
  });
});

describe('KV block copy', () => {
  for (const dtype of ['f16', 'int8', 'int4', 'f32'] as const) {
    it(`${dtype}: blocks read from one cache and written into another arrive byte for byte`, () => {
      const shape = { numLayers: 3, numKvHeads: 2, headDim: 32 };
      const a = new KVCacheStorage(shape, 8, 4, dtype);
      const b = new KVCacheStorage(shape, 8, 4, dtype);
      a.layers.forEach((l, i) => {
        for (let k = 0; k < l.k.length; k++) l.k[k] = (k * 7 + i) & 255;
        for (let k = 0; k < l.v.length; k++) l.v[k] = (k * 13 + i) & 255;
      });
      const frames = readBlocks(a, [5, 2]);
      const g = blockGeometry(a);
      assert.equal(frames.length, 6);
      assert.ok(frames.every((f) => f.byteLength === 2 * g.blockBytes));
      assert.equal(framesProblem(b, 2, frames), null);
      assert.match(framesProblem(b, 3, frames)!, /not 3 blocks/);
      assert.match(framesProblem(b, 2, frames.slice(1))!, /5 frames for 6 pools/);
      writeBlocks(b, [0, 7], frames);
      const block = (s: KVCacheStorage, l: number, kv: 'k' | 'v', id: number) => s.layers[l]![kv].subarray(id * g.blockBytes, (id + 1) * g.blockBytes);
      for (let l = 0; l < 3; l++) {
        assert.deepEqual(block(b, l, 'k', 0), block(a, l, 'k', 5));
        assert.deepEqual(block(b, l, 'v', 7), block(a, l, 'v', 2));
      }
      assert.ok(block(b, 0, 'k', 1).every((x) => x === 0), 'other blocks untouched');
    });
  }
});

describe('KV transfer settings', () => {
  it('reads vLLM\'s --kv-transfer-config', () => {
    const c = parseKVTransferConfigJson('{"kv_connector": "TsllmConnector", "kv_role": "kv_consumer", "kv_load_failure_policy": "fail", "kv_connector_extra_config": {"pull_timeout_seconds": 2}}');
    assert.deepEqual(c, { role: 'decode', bindHost: '127.0.0.1', advertiseHost: '127.0.0.1', port: 0, leaseMs: 30_000, pullTimeoutMs: 2000, loadFailurePolicy: 'fail' });
    assert.equal(parseKVTransferConfigJson('{"kv_role": "kv_producer", "kv_ip": "0.0.0.0", "kv_port": 5600}').advertiseHost, '127.0.0.1');
    assert.throws(() => parseKVTransferConfigJson('{kv_role'), /not JSON/);
    assert.throws(() => parseKVTransferConfigJson('{"kv_role": "kv_everything"}'), /kv_role/);
    assert.throws(() => parseKVTransferConfigJson('{"kv_role": "kv_both", "kv_connector": "NixlConnector"}'), /NixlConnector/);
  });

  it('reads the flags, and refuses half of them', () => {
    assert.equal(kvTransferFromFlags({}), undefined);
    assert.deepEqual(kvTransferFromFlags({ kvTransferRole: 'prefill', kvLeaseSeconds: 5, kvTransferPort: 5600 }), {
      role: 'prefill', bindHost: '127.0.0.1', advertiseHost: '127.0.0.1', port: 5600, leaseMs: 5000, pullTimeoutMs: 10_000, loadFailurePolicy: 'recompute',
    });
    assert.throws(() => kvTransferFromFlags({ kvLeaseSeconds: 5 }), /--kv-lease-seconds needs --kv-transfer-role/);
    assert.throws(() => kvTransferFromFlags({ kvTransferRole: 'decode', kvTransferConfig: '{"kv_role": "kv_consumer"}' }), /not both/);
    assert.throws(() => kvTransferFromFlags({ kvTransferRole: 'decode', kvPullTimeout: 0 }), /positive/);
  });

  it('kv_transfer_params: the prefill side\'s answer reads back as what it said; malformed ones are UsageErrors', () => {
    const remote = { engineId: 'e', host: 'h', port: 9, leaseId: 'l', numBlocks: 3, blockSize: 16, kvCacheDtype: 'f16', modelFingerprint: 'f' };
    assert.deepEqual(parseKVTransferParams(remoteBlocksParams(remote)), { doRemotePrefill: true, remote });
    assert.deepEqual(parseKVTransferParams({ do_remote_decode: true }), { doRemoteDecode: true });
    assert.equal(parseKVTransferParams(null), null);
    assert.equal(parseKVTransferParams({}), null);
    assert.throws(() => parseKVTransferParams({ do_remote_prefill: true }), (e: Error) => e instanceof UsageError && /needs remote_engine_id/.test(e.message));
    assert.throws(() => parseKVTransferParams({ do_remote_decode: true, do_remote_prefill: true }), UsageError);
    assert.throws(() => parseKVTransferParams({ remote_port: 'x' }), UsageError);
  });
});
