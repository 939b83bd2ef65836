// A backend gets each matmul weight once when the model is built (so the first request does not pay
// for converting it), and the forward pass multiplies only by the handles it returned.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KVCacheStorage } from '../../../src/engine/kv-cache/kv-cache-storage.js';
import { ReferenceBackend } from '../../../src/kernels/reference/reference-backend.js';
import type { PreparedWeight } from '../../../src/kernels/backend.js';
import type { WeightTensor } from '../../../src/kernels/tensor.js';
import { CausalLM } from '../../../src/model/architectures/decoder.js';
import { loadModel } from '../../../src/model/load-model.js';
import { modelDir } from '../../helpers/fixtures.js';
import { prepareWeights } from '../../../src/model/architectures/prepared-weights.js';
import { testBackends } from '../../helpers/backends.js';
import type { ModelWeights } from '../../../src/model/weights.js';
import type { ModelConfig } from '../../../src/model/config.js';

type Prepared = WeightTensor | readonly WeightTensor[];

class RecordingBackend extends ReferenceBackend {
  readonly prepared: Prepared[] = [];
  readonly handles = new Map<PreparedWeight, Prepared>();
  readonly multiplied = new Set<Prepared>();
  override prepareWeight(w: Prepared) {
    this.prepared.push(w);
    const h = super.prepareWeight(w);
    this.handles.set(h, w);
    return h;
  }
  override matmul(out: Float32Array, x: Float32Array, w: PreparedWeight, rows: number, bias?: Float32Array): void {
    const source = this.handles.get(w);
    assert.ok(source, 'matmul got a weight that prepareWeight did not return');
    this.multiplied.add(source);
    super.matmul(out, x, w, rows, bias);
  }
}

/** One prefill of `rows` tokens (`token(i)` modulo the vocabulary) in a fresh cache; the last row's logits. */
function onePass(config: ModelConfig, model: CausalLM, rows: number, token: (i: number) => number): Float32Array {
  return model.forward({
    tokenIds: Int32Array.from({ length: rows }, (_, i) => token(i) % config.vocabSize),
    positions: Int32Array.from({ length: rows }, (_, i) => i),
    slotMapping: Int32Array.from({ length: rows }, (_, i) => i),
    seqs: [{ queryStart: 0, queryLen: rows, contextLen: rows, blockTable: Int32Array.of(0) }],
    logitsRows: Int32Array.of(rows - 1),
  }, new KVCacheStorage(config, 1, 16, 'f32').layers, 16);
}

describe('weights prepared at model construction', () => {
  for (const name of ['stories260K', 'llama31-tied-rope-llama3', 'qwen2moe']) {
    it(`${name}: each weight a forward pass multiplies by, once, before the pass`, async () => {
      const { config, weights } = await loadModel(modelDir(name));
      const be = new RecordingBackend();
      const model = new CausalLM(config, weights, be);
      assert.equal(new Set(be.prepared).size, be.prepared.length, 'no weight twice');
      assert.equal(be.multiplied.size, 0);
      onePass(config, model, 12, (i) => i * 13 + 1);
      assert.ok(be.multiplied.size > 4 * config.numLayers);
      for (const w of be.multiplied) assert.ok(be.prepared.includes(w), 'a weight was not prepared');
      if (weights.lmHead !== weights.embed) assert.ok(!be.prepared.flat().includes(weights.embed), 'the embedding table is no matmul weight');
      // Same-format projections of one input are fused: q, k, v as one weight, gate and up as another.
      const l0 = weights.layers[0]!;
      assert.ok(be.prepared.some((p) => Array.isArray(p) && p.length === 3 && p[0] === l0.q && p[1] === l0.k && p[2] === l0.v), 'q, k and v fused');
      const mlp0 = l0.mlp ?? l0.moe!.experts[0]!;
      assert.ok(be.prepared.some((p) => Array.isArray(p) && p[0] === mlp0.gate && p[1] === mlp0.up), 'gate and up fused');
      // A layer-skip draft shares the target's handles: nothing is prepared again, and its pass
      // multiplies only by handles the target got.
      const preparedBefore = be.prepared.length;
      const draft = model.firstLayers(1);
      assert.equal(be.prepared.length, preparedBefore);
      draft.forward({
        tokenIds: Int32Array.of(1), positions: Int32Array.of(0), slotMapping: Int32Array.of(0),
        seqs: [{ queryStart: 0, queryLen: 1, contextLen: 1, blockTable: Int32Array.of(0) }], logitsRows: Int32Array.of(0),
      }, new KVCacheStorage(config, 1, 16, 'f32').layers.slice(0, 1), 16);
    });
  }
});

describe('originals dropped once a backend holds its own copy', () => {
  const logitsOf = (config: ModelConfig, model: CausalLM) => onePass(config, model, 9, (i) => i * 7 + 2);
  const matrices = (w: ModelWeights): WeightTensor[] => w.layers.flatMap((l) => [l.q, l.k, l.o, ...(l.v ? [l.v] : []),
    ...[l.mlp, ...(l.moe?.experts ?? [])].flatMap((m) => (m ? [m.gate, m.up, m.down].filter((t): t is WeightTensor => t !== undefined) : []))]);
  for (const b of testBackends()) {
    for (const name of ['llama31-tied-rope-llama3', 'qwen2moe']) {
      it(`${b.name}, ${name}: the same logits, and only the backend's copies stay (the embedding table always)`, async () => {
        const kept = await loadModel(modelDir(name));
        const dropped = await loadModel(modelDir(name));
        const embedBytes = dropped.weights.embed.data.byteLength;
        const be = b.make();
        const want = logitsOf(kept.config, new CausalLM(kept.config, kept.weights, be, prepareWeights(kept.weights, be)));
        const got = logitsOf(dropped.config, new CausalLM(dropped.config, dropped.weights, be, prepareWeights(dropped.weights, be, undefined, true, true)));
        assert.deepEqual(got, want);
        const emptied = matrices(dropped.weights).filter((m) => m.data.byteLength === 0).length;
        if (b.name === 'reference') assert.equal(emptied, 0, 'the reference backend reads the originals');
        else assert.equal(emptied, matrices(dropped.weights).length, 'every packed matrix dropped');
        assert.equal(dropped.weights.embed.data.byteLength, embedBytes);
        assert.ok(matrices(kept.weights).every((m) => m.data.byteLength > 0), 'without the flag nothing is dropped');
      });
    }
  }
});
