// A pipeline stage's part of a model: its run of layers (the first stages one longer when the count
// does not divide), the embedding on the first stage and the head on the last, and every other
// tensor handed back (released) rather than kept.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../../src/model/load-model.js';
import { headCostInLayers, pipelineSplit, shardForPipeline, stageLayers } from '../../src/model/parallel/pipeline-stage-shard.js';
import { modelDir } from '../helpers/fixtures.js';

describe('pipeline stages', () => {
  it('split the layers evenly, the first stages one longer', () => {
    assert.deepEqual([0, 1].map((s) => stageLayers(22, s, 2)), [{ start: 0, end: 11 }, { start: 11, end: 22 }]);
    assert.deepEqual([0, 1, 2].map((s) => stageLayers(8, s, 3)), [{ start: 0, end: 3 }, { start: 3, end: 6 }, { start: 6, end: 8 }]);
    assert.throws(() => stageLayers(2, 0, 3), /--pipeline-parallel-size 3 is more than the model's 2 layers/);
  });

  it('move layers off the last stage while its output head makes it the slowest', () => {
    // TinyLlama: the head reads 32000 x 2048 weights a token, a layer 44M: about 1.49 layers' worth.
    const tinyllama = { vocabSize: 32000, hiddenSize: 2048, headDim: 64, numHeads: 32, numKvHeads: 4, intermediateSize: 5632 } as Parameters<typeof headCostInLayers>[0];
    const head = headCostInLayers(tinyllama);
    assert.ok(Math.abs(head - 1.488) < 1e-3, String(head));
    assert.deepEqual([0, 1].map((s) => stageLayers(22, s, 2, head)), [{ start: 0, end: 12 }, { start: 12, end: 22 }]);
    assert.deepEqual([0, 1, 2, 3].map((s) => stageLayers(22, s, 4, head).end), [6, 12, 17, 22]);
    assert.deepEqual([0, 1].map((s) => stageLayers(2, s, 2, 10)), [{ start: 0, end: 1 }, { start: 1, end: 2 }], 'every stage keeps a layer');
    // Stage 0's sampling and scheduling, charged like the head, keep the even split.
    assert.deepEqual([0, 1].map((s) => pipelineSplit({ ...tinyllama, numLayers: 22 }, s, 2)), [{ start: 0, end: 11 }, { start: 11, end: 22 }]);
    assert.deepEqual([0, 1].map((s) => stageLayers(22, s, 2, 3, 1).end), [12, 22], 'a head costlier than stage 0\'s extra work still moves layers to stage 0');
  });

  for (const name of ['llama-gqa', 'gemma2', 'deepseek-v3']) {
    it(`${name}: each of 2 stages keeps its layers and releases the rest`, async () => {
      const { config, weights } = await loadModel(modelDir(name));
      const kept: Set<Uint8Array>[] = [];
      for (const stage of [0, 1]) {
        const released = new Set<Uint8Array>();
        const shard = shardForPipeline(config, weights, { stage, size: 2, release: (d) => released.add(d) });
        const { start, end } = pipelineSplit(config, stage, 2);
        assert.equal(shard.config.numLayers, end - start);
        assert.deepEqual(shard.weights.layers, weights.layers.slice(start, end));
        if (config.slidingLayers) assert.deepEqual(shard.config.slidingLayers, config.slidingLayers.slice(start, end));
        assert.equal(shard.first, stage === 0);
        assert.equal(shard.last, stage === 1);
        // Another stage's layer is released, its own never.
        assert.ok(released.has(weights.layers[stage === 0 ? config.numLayers - 1 : 0]!.o.data));
        assert.ok(!released.has(shard.weights.layers[0]!.o.data));
        assert.equal(released.has(weights.embed.data), stage !== 0 && !(config.tieEmbeddings && stage === 1));
        assert.equal(released.has(weights.lmHead.data), stage !== 1 && !(config.tieEmbeddings && stage === 0));
        kept.push(new Set([...allTensors(weights)].filter((d) => !released.has(d))));
      }
      // Together the stages keep every tensor; only a tied embedding/head is on both.
      const all = allTensors(weights);
      for (const d of all) assert.ok(kept[0]!.has(d) || kept[1]!.has(d));
      const both = [...kept[0]!].filter((d) => kept[1]!.has(d));
      assert.deepEqual(both, config.tieEmbeddings ? [weights.embed.data] : []);
    });
  }
});

function allTensors(v: unknown, out = new Set<Uint8Array>()): Set<Uint8Array> {
  if (v instanceof Uint8Array) out.add(v);
  else if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) Object.values(v as object).forEach((x) => allTensors(x, out));
  return out;
}
