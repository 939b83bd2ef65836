// KV-cache events: through 300 requests with shared prefixes, preemptions and aborts in a cache far too
// small for them, the events after every step replay into exactly the set of blocks the prefix cache
// indexes, and the router's view built from them matches what the engine would find for any prompt.
// The wire format is vLLM's (msgpack, array-like tagged structs); the publisher's replay socket
// gives a late subscriber everything it kept.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import { Router } from 'zeromq';
import { EngineCore } from '../../../src/engine/engine-core.js';
import { resolveEngineConfig } from '../../../src/engine/engine-config.js';
import { makeSamplingParams } from '../../../src/engine/sampling/sampling-params.js';
import { extendBlockHashes } from '../../../src/engine/kv-cache/block-hash.js';
import { KVEventLog, type KVCacheEvent } from '../../../src/engine/kv-cache/kv-event-log.js';
import { decodeBatch, encodeBatch, type KVEventBatch } from '../../../src/engine/kv-events/kv-event-wire.js';
import { KVEventPublisher } from '../../../src/engine/kv-events/kv-event-publisher.js';
import { offsetForRank, parseKVEventsConfigJson } from '../../../src/engine/kv-events/kv-events-config.js';
import { KVEventIndex } from '../../../src/router/kv-event-index.js';
import { KVEventSubscriber } from '../../../src/router/kv-event-subscriber.js';
import { reachableEndpoint } from '../../../src/router/kv-event-feeds.js';
import { CausalLM } from '../../../src/model/architectures/decoder.js';
import { loadModel } from '../../../src/model/load-model.js';
import { Rng } from '../../../src/util/rng.js';
import { UsageError } from '../../../src/util/errors.js';
import { testBackends } from '../../helpers/backends.js';
import { FIXTURES, modelDir } from '../../helpers/fixtures.js';

describe('KV-cache events', () => {
  it('replay into exactly what the prefix cache indexes, step by step, and the router\'s view matches the engine\'s lookups', async () => {
    const loaded = await loadModel(modelDir('stories260K'), { tokenizer: path.join(FIXTURES, 'tokenizers', 'tok512') });
    const model = new CausalLM(loaded.config, loaded.weights, testBackends().at(-1)!.make());
    const c = loaded.config;
    const blockBytes = 4 * 2 * c.numLayers * c.numKvHeads * c.headDim * 4;
    const core = new EngineCore(model, loaded.tokenizer, resolveEngineConfig(c, { blockSize: 4, kvCacheMemory: 64 * blockBytes, maxNumBatchedTokens: 48, maxNumSeqs: 12 }));
    const log = core.kv.recordEvents();
    const index = new KVEventIndex();
    const view = index.viewOf('w');
    const stored = new Set<string>();
    const rng = new Rng(7);
    const pick = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
    const prefixes = Array.from({ length: 5 }, () => Array.from({ length: pick(8, 30) }, () => pick(3, 511)));
    const prompt = () => [...prefixes[pick(0, 4)]!.slice(0, pick(4, 30)), ...Array.from({ length: pick(0, 9) }, () => pick(3, 511))];
    let added = 0;
    let removals = 0;
    const live: string[] = [];
    while (added < 300 || core.hasWork) {
      for (let k = added < 300 ? pick(0, 3) : 0; k > 0; k--, added++) {
        core.addRequest({ id: `r${added}`, promptIds: prompt(), params: makeSamplingParams({ temperature: 0, maxTokens: pick(1, 12), ignoreEos: true }) });
        live.push(`r${added}`);
      }
      if (live.length > 0 && rng.next() < 0.05) core.abort(live.splice(pick(0, live.length - 1), 1)[0]!);
      core.step();
      const events: KVCacheEvent[] = log.drain();
      for (const e of events) {
        if (e.type === 'BlockStored') {
          assert.ok(e.parentBlockHash === null || stored.has(e.parentBlockHash), 'a stored run hangs off a block that is stored');
          assert.equal(e.tokenIds.length, e.blockHashes.length * 4);
          for (const h of e.blockHashes) {
            assert.ok(!stored.has(h), 'a block is stored once until it is removed');
            stored.add(h);
          }
        } else if (e.type === 'BlockRemoved') {
          for (const h of e.blockHashes) assert.ok(stored.delete(h), 'only stored blocks are removed');
          removals += e.blockHashes.length;
        }
        view.apply(e);
      }
      const indexed = core.kv.pool.blocks.filter((b) => b.hash !== null).map((b) => b.hash!);
      assert.deepEqual([...stored].sort(), indexed.sort());
      assert.equal(view.numBlocks, core.kv.pool.numCached);
    }
    assert.ok(removals > 100, `evictions happened (${removals})`);
    assert.equal(view.orphans, 0);
    // Any prompt: the view's match is what the engine's own lookup finds (full blocks, in order).
    for (let i = 0; i < 50; i++) {
      const p = prompt();
      const hashes: string[] = [];
      extendBlockHashes(hashes, p, 4);
      let found = 0;
      while (found < hashes.length && core.kv.pool.lookup(hashes[found]!)) found++;
      assert.equal(view.matchLength(p), found * 4, `prompt ${i}`);
    }
  });

  it('a request routed but not yet computed counts for its worker until done, and its blocks not in the events linger', async () => {
    const index = new KVEventIndex(40);
    const v = index.viewOf('w');
    v.apply({ type: 'BlockStored', blockHashes: ['aa'], parentBlockHash: null, tokenIds: [1, 2, 3, 4], blockSize: 4 });
    const tokens = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    assert.equal(v.matchLength(tokens), 4);
    const done = v.routedHere(tokens);
    assert.equal(v.matchLength([...tokens]), 8);
    done();
    assert.equal(v.matchLength([...tokens]), 8, 'the second block\'s events have not come: it lingers');
    v.apply({ type: 'BlockRemoved', blockHashes: ['aa'] });
    assert.equal(v.matchLength([...tokens]), 0, 'the first block was in the events when the request ended: not kept past them');
    v.apply({ type: 'BlockStored', blockHashes: ['aa'], parentBlockHash: null, tokenIds: [1, 2, 3, 4], blockSize: 4 });
    assert.equal(v.matchLength([...tokens]), 8);
    await new Promise((res) => setTimeout(res, 80));
    assert.equal(v.matchLength([...tokens]), 4, 'the linger ends');
    v.apply({ type: 'BlockRemoved', blockHashes: ['aa'] });
    assert.equal(v.matchLength([...tokens]), 0);
    const early = new KVEventIndex();
    early.blockSize = 4;
    early.viewOf('x').routedHere(tokens);
    assert.equal(early.viewOf('x').matchLength([...tokens]), 8, 'with the block size from /load, a request routed before any event marks its prefix');
    assert.equal(early.viewOf('y').matchLength([...tokens]), 0);
    v.apply({ type: 'BlockStored', blockHashes: ['cc'], parentBlockHash: 'bb', tokenIds: [5, 6, 7, 8], blockSize: 4 });
    assert.equal(v.orphans, 1, 'a block whose parent was never seen stays out of the view');
  });

  it('batches are vLLM\'s msgpack: [ts, [[tag, fields...]...], dp_rank], hashes as bytes', () => {
    const h = (c: string) => c.repeat(64);
    const batch: KVEventBatch = {
      ts: 1796000000.25, dataParallelRank: 1,
      events: [
        { type: 'BlockStored', blockHashes: [h('a'), h('b')], parentBlockHash: null, tokenIds: [1, 2, 3, 4, 5, 6, 7, 8], blockSize: 4 },
        { type: 'BlockRemoved', blockHashes: [h('c')] },
        { type: 'AllBlocksCleared' },
      ],
    };
    const raw = decode(encodeBatch(batch)) as unknown[];
    assert.equal(raw[0], 1796000000.25);
    assert.equal(raw[2], 1);
    const [stored, removed, cleared] = raw[1] as unknown[][];
    assert.equal(stored![0], 'BlockStored');
    assert.deepEqual((stored![1] as Uint8Array[]).map((b) => Buffer.from(b).toString('hex')), [h('a'), h('b')]);
    assert.deepEqual(stored!.slice(2), [null, [1, 2, 3, 4, 5, 6, 7, 8], 4, null, null]);
    assert.equal(removed![0], 'BlockRemoved');
    assert.equal(removed!.length, 3);
    assert.deepEqual(cleared, ['AllBlocksCleared']);
    assert.deepEqual(decodeBatch(encodeBatch(batch)), batch);
    assert.deepEqual(decodeBatch(encodeBatch({ ...batch, dataParallelRank: null })).dataParallelRank, null);
    assert.throws(() => decodeBatch(Buffer.from([0x93, 1, 2, 3])), /not \[ts, events/);
    assert.throws(() => decodeBatch(encode([1, [['Nope']]])), /unknown KV event "Nope"/);
    assert.throws(() => decodeBatch(encode([1, [['BlockStored', [], null, 'x', 4, null, null]]])), /lacks block_hashes, token_ids/);
  });

  it('a late subscriber gets the kept batches from the replay socket, then live ones, in order; a restarted publisher empties the view', async () => {
    const log = new KVEventLog();
    let pub = await KVEventPublisher.create({ endpoint: 'tcp://127.0.0.1:0', replayEndpoint: 'tcp://127.0.0.1:0', topic: 'kv-events', bufferSteps: 2 }, log, null);
    const store = (i: number) => log.stored([i.toString(16).padStart(64, '0')], null, [i, i, i, i], 4);
    for (let i = 1; i <= 3; i++) {
      store(i);
      pub.flush();
    }
    pub.flush(); // nothing pending: no batch
    const got: number[] = [];
    const problems: string[] = [];
    const sub = new KVEventSubscriber({ endpoint: pub.endpoint, replayEndpoint: pub.replayEndpoint, topic: 'kv-events' }, {
      batch: (b) => got.push(...b.events.map((e) => (e.type === 'BlockStored' ? e.tokenIds[0]! : -1))),
      reset: () => got.push(0),
      problem: (m) => problems.push(m),
    });
    sub.start();
    try {
      const until = Date.now() + 5000;
      while (got.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got, [2, 3], 'the two batches kept (bufferSteps 2)');
      // Live delivery needs the subscription to have reached the publisher: keep publishing until it does.
      for (let i = 4; !got.includes(i - 1) || i <= 6; i++) {
        assert.ok(Date.now() < until, `live batches arrived: ${got}`);
        store(i);
        pub.flush();
        await new Promise((r) => setTimeout(r, 30));
      }
      assert.deepEqual(got, [...got].sort((a, b) => a - b), 'in order, none twice');
      assert.equal(new Set(got).size, got.length);
      assert.deepEqual(got.slice(0, 2), [2, 3]);
      assert.deepEqual(problems, []);
      // The worker restarts on the same ports: its batches are numbered from 0 again.
      const { endpoint, replayEndpoint } = pub;
      pub.close();
      await new Promise((r) => setTimeout(r, 100));
      pub = await KVEventPublisher.create({ endpoint, replayEndpoint, topic: 'kv-events', bufferSteps: 2 }, log, null);
      const seen = got.length;
      for (let i = 100; !got.includes(i - 1); i++) {
        assert.ok(Date.now() < until + 5000, `batches after the restart arrived: ${got}`);
        store(i);
        pub.flush();
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(got[seen], 0, 'the view was emptied');
      assert.equal(got[seen + 1], 100);
    } finally {
      sub.close();
      pub.close();
    }
  });

  it('a replay socket that never answers is reported, and live batches still flow', async () => {
    const log = new KVEventLog();
    const pub = await KVEventPublisher.create({ endpoint: 'tcp://127.0.0.1:0', replayEndpoint: null, topic: '', bufferSteps: 10 }, log, null);
    const mute = new Router({ linger: 0 });
    await mute.bind('tcp://127.0.0.1:0');
    const got: number[] = [];
    const problems: string[] = [];
    const sub = new KVEventSubscriber({ endpoint: pub.endpoint, replayEndpoint: mute.lastEndpoint!, topic: '' }, {
      batch: (b) => got.push(b.events.length), reset: () => {}, problem: (m) => problems.push(m),
    });
    sub.start();
    try {
      const until = Date.now() + 8000;
      while (problems.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      assert.match(problems[0] ?? '', /did not answer within 2000 ms/);
      while (got.length === 0 && Date.now() < until) {
        log.stored(['ab'.repeat(32)], null, [1, 2, 3, 4], 4);
        pub.flush();
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(got.length > 0, 'live batches arrived after the failed replay');
    } finally {
      sub.close();
      mute.close();
      pub.close();
    }
  });

  it('vLLM\'s --kv-events-config is read, checked, and offset per data-parallel rank', () => {
    assert.deepEqual(parseKVEventsConfigJson('{"enable_kv_cache_events": true, "publisher": "zmq", "endpoint": "tcp://*:5557", "replay_endpoint": "tcp://*:5558", "topic": "kv"}'),
      { endpoint: 'tcp://*:5557', replayEndpoint: 'tcp://*:5558', topic: 'kv', bufferSteps: 10_000 });
    assert.equal(parseKVEventsConfigJson('{"enable_kv_cache_events": false}'), null);
    assert.equal(parseKVEventsConfigJson('{"publisher": "null"}'), null);
    assert.throws(() => parseKVEventsConfigJson('{'), (e) => e instanceof UsageError && /not JSON/.test(e.message));
    assert.throws(() => parseKVEventsConfigJson('{"endpoint": "localhost:5557"}'), /not a ZeroMQ endpoint/);
    assert.throws(() => parseKVEventsConfigJson('{"buffer_steps": -1}'), /buffer_steps/);
    assert.throws(() => parseKVEventsConfigJson('{"endpont": "tcp://*:1"}'), /endpont/);
    const c = parseKVEventsConfigJson('{"endpoint": "tcp://*:5557", "replay_endpoint": "tcp://127.0.0.1:0"}')!;
    assert.deepEqual(offsetForRank(c, 2), { ...c, endpoint: 'tcp://*:5559', replayEndpoint: 'tcp://127.0.0.1:0' });
    assert.equal(reachableEndpoint('tcp://0.0.0.0:5557', 'http://10.0.0.2:8001'), 'tcp://10.0.0.2:5557');
    assert.equal(reachableEndpoint('tcp://*:5557', 'http://worker-a:8001'), 'tcp://worker-a:5557');
    assert.equal(reachableEndpoint('tcp://127.0.0.1:5557', 'http://10.0.0.2:8001'), 'tcp://127.0.0.1:5557');
  });
});
