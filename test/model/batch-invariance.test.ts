// A sequence's logits must not depend on what else shares its forward pass: speculative decoding's
// greedy exactness rests on it (a draft computed one row at a time is verified inside a multi-row
// pass), and so does "the same answer at any load". Each backend must give bit-identical logits for
// a token whether it is decoded alone, sits inside a prefill chunk, or is batched with other sequences.
// stories260K's MLP width (172) is not a multiple of 8, so vector and scalar paths meet inside rows;
// mistral-swa16 has a sliding window, so a task's first visible key depends on its queries.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KVCacheStorage } from '../../src/engine/kv-cache/kv-cache-storage.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadModel } from '../../src/model/load-model.js';
import { testBackends } from '../helpers/backends.js';
import { modelDir } from '../helpers/fixtures.js';

const BLOCK = 16;

for (const name of ['stories260K', 'mistral-swa16']) {
  describe(`batch invariance on ${name}`, async () => {
    const loaded = await loadModel(modelDir(name));
    const V = loaded.config.vocabSize;
    const tokens = Array.from({ length: 45 }, (_, i) => (i * 37 + 11) % V);
    const blocks = Int32Array.from({ length: 8 }, (_, i) => i);

    for (const backend of testBackends()) {
      it(`${backend.name}: decoded alone, inside a prefill chunk, and beside another sequence`, () => {
        const model = new CausalLM(loaded.config, loaded.weights, backend.make());
        // [start, end) of `tokens` for each sequence, with logits at every row; sequence s owns blocks s*4..s*4+3.
        const pass = (cache: KVCacheStorage, parts: { seq: number; start: number; end: number }[]) => {
          const ids: number[] = [];
          const positions: number[] = [];
          const slots: number[] = [];
          const seqs = parts.map((p) => {
            const queryStart = ids.length;
            for (let t = p.start; t < p.end; t++) {
              ids.push(tokens[(t + p.seq * 5) % tokens.length]!);
              positions.push(t);
              slots.push((p.seq * 4 + Math.floor(t / BLOCK)) * BLOCK + (t % BLOCK));
            }
            return { queryStart, queryLen: p.end - p.start, contextLen: p.end, blockTable: blocks.slice(p.seq * 4, p.seq * 4 + 4) };
          });
          return model.forward({
            tokenIds: Int32Array.from(ids), positions: Int32Array.from(positions), slotMapping: Int32Array.from(slots), seqs,
            logitsRows: Int32Array.from(ids.keys()),
          }, cache.layers, BLOCK);
        };
        const row = (logits: Float32Array, r: number) => Array.from(logits.subarray(r * V, (r + 1) * V));

        // Alone: a 33-token prefill, then one token at a time.
        const alone = new KVCacheStorage(loaded.config, 8, BLOCK, 'f16');
        pass(alone, [{ seq: 0, start: 0, end: 33 }]);
        const decoded: number[][] = [];
        for (let t = 33; t < 40; t++) decoded.push(row(pass(alone, [{ seq: 0, start: t, end: t + 1 }]), 0));

        // The same tokens inside chunks of other sizes, next to a second sequence's prefill and decode rows.
        const mixed = new KVCacheStorage(loaded.config, 8, BLOCK, 'f16');
        pass(mixed, [{ seq: 1, start: 0, end: 20 }, { seq: 0, start: 0, end: 30 }]);
        const chunk = pass(mixed, [{ seq: 0, start: 30, end: 37 }, { seq: 1, start: 20, end: 21 }]);
        const rest = pass(mixed, [{ seq: 1, start: 21, end: 26 }, { seq: 0, start: 37, end: 40 }]);
        const batched = [...[3, 4, 5, 6].map((r) => row(chunk, r)), ...[5, 6, 7].map((r) => row(rest, r))];
        batched.forEach((b, i) => assert.deepEqual(b, decoded[i], `position ${33 + i}`));
      });
    }
  });
}
