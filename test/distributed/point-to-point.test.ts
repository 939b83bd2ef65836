// Point-to-point messages between two ranks on one host, as pipeline stages send them: small ones
// through the shared-memory mailbox, large ones through Gloo, interleaved in one ordered stream, more
// bytes than the mailbox holds (so the ring wraps and the sender waits for room), all arriving intact
// and in order; a receive that finds another message than it expects says so.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ProcessGroup } from '../../src/distributed/process-group.js';
import { RendezvousStore } from '../../src/distributed/rendezvous-store.js';
import { TSLLM_VERSION } from '../../src/util/version.js';
import { skipWithoutGloo } from '../helpers/gloo.js';
import { messageData, P2P_MODEL, type PeerMessage } from '../helpers/point-to-point-peer.js';

const PEER = new URL('../helpers/point-to-point-peer.js', import.meta.url).href;

describe('point-to-point between ranks on one host', { skip: skipWithoutGloo }, () => {
  it('delivers 60 messages of 16 B to 3 MB (mailbox and Gloo interleaved, 70 MB through an 8 MB ring) in order; a wrong tag is named', { timeout: 60_000 }, async () => {
    // Up to 2 MB fits the mailbox (a quarter of 8 MiB), 3 MB goes through Gloo.
    const sizes = [4, 75_000, 500_000, 750_000];
    const messages: PeerMessage[] = Array.from({ length: 60 }, (_, i) => ({ floats: sizes[i % sizes.length]!, tag: 10 + (i % 3) }));
    const store = await RendezvousStore.listen({ worldSize: 2, version: TSLLM_VERSION }, '127.0.0.1', 0);
    const master = `127.0.0.1:${store.port}`;
    const worker = new Worker(`import(${JSON.stringify(PEER)}).then((m) => m.runPeer(...require('node:worker_threads').workerData)).then((r) => require('node:worker_threads').parentPort.postMessage(r))`, {
      eval: true,
      workerData: [master, messages, 98],
    });
    const answer = new Promise<{ matched: number; mismatch: string }>((resolve, reject) => worker.once('message', resolve).once('error', reject));
    const group = await ProcessGroup.join({ rank: 0, worldSize: 2, master, bindHost: '127.0.0.1', timeoutMs: 20_000, model: P2P_MODEL, version: TSLLM_VERSION });
    try {
      // Posted without waiting, as a stage posts its activations; each array stays untouched until waitSends.
      const posted = messages.map((m, i) => messageData(i, m.floats));
      posted.forEach((x, i) => group.comm.isend(x, 1, messages[i]!.tag));
      group.comm.waitSends();
      const matched = new Int32Array(1);
      group.comm.recv(matched, 1, 1);
      assert.equal(matched[0], messages.length, 'every message arrived intact and in order');
      // Posted, not waited for: the peer refuses it, so it is never received.
      group.comm.isend(new Float32Array(4), 1, 99);
      const r = await answer;
      assert.equal(r.matched, messages.length);
      assert.match(r.mismatch, /expected tag 98 of 16 bytes, the next message has tag 99 of 16 bytes/);
    } finally {
      group.close();
      store.close();
      await worker.terminate();
    }
  });
});
