// The decoder keeps its activation buffers between forward passes; a pass must not see what an
// earlier, larger one left in them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KVCacheStorage } from '../../../src/engine/kv-cache/kv-cache-storage.js';
import { ActivationBuffers } from '../../../src/model/architectures/activation-buffers.js';
import { CausalLM, type ForwardBatch } from '../../../src/model/architectures/decoder.js';
import { loadModel } from '../../../src/model/load-model.js';
import { testBackends } from '../../helpers/backends.js';
import { modelDir } from '../../helpers/fixtures.js';

describe('activation buffers', () => {
  it('hands out views of the requested length, reusing the memory until a larger one is asked for', () => {
    const buffers = new ActivationBuffers();
    const a = buffers.get('up', 100);
    assert.equal(a.length, 100);
    a.fill(7);
    const b = buffers.get('up', 40);
    assert.equal(b.length, 40);
    assert.equal(b.buffer, a.buffer);
    assert.notEqual(buffers.get('gate', 40).buffer, a.buffer, 'each name has its own memory');
    const c = buffers.get('up', 101);
    assert.equal(c.length, 101);
    assert.notEqual(c.buffer, a.buffer);
  });

  it('a forward pass after a larger one gives the logits of a fresh model', async () => {
    const loaded = await loadModel(modelDir('stories260K'));
    const V = loaded.config.vocabSize;
    const BLOCK = 16;
    const batch = (len: number, first: number): ForwardBatch => ({
      tokenIds: Int32Array.from({ length: len }, (_, i) => (first + i * 31) % V),
      positions: Int32Array.from({ length: len }, (_, i) => i),
      slotMapping: Int32Array.from({ length: len }, (_, i) => i),
      seqs: [{ queryStart: 0, queryLen: len, contextLen: len, blockTable: Int32Array.of(0, 1, 2, 3) }],
      logitsRows: Int32Array.from({ length: len }, (_, i) => i),
    });
    for (const backend of testBackends()) {
      const be = backend.make();
      const used = new CausalLM(loaded.config, loaded.weights, be);
      used.forward(batch(50, 3), new KVCacheStorage(loaded.config, 4, BLOCK, 'f32').layers, BLOCK);
      const after = used.forward(batch(9, 5), new KVCacheStorage(loaded.config, 4, BLOCK, 'f32').layers, BLOCK);
      const fresh = new CausalLM(loaded.config, loaded.weights, be).forward(batch(9, 5), new KVCacheStorage(loaded.config, 4, BLOCK, 'f32').layers, BLOCK);
      assert.equal(after.length, 9 * V);
      assert.deepEqual(after, fresh, backend.name);
    }
  });
});
