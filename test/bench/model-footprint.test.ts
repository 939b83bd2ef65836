// What a decode step reads: every matrix once for a dense model; for MoE, only the experts the step
// routes to, so decode GB/s is not inflated by experts nobody read.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { modelFootprint } from '../../src/bench/model-footprint.js';
import { byteSize, numel } from '../../src/kernels/tensor.js';
import { loadModel } from '../../src/model/load-model.js';
import { modelDir } from '../helpers/fixtures.js';

it('MoE: the active bytes count topK experts per layer, the total all of them; dense: both the same', async () => {
  const moe = await loadModel(modelDir('qwen2moe'));
  const m = moe.config.moe!;
  const e0 = moe.weights.layers[0]!.moe!.experts[0]!;
  const expertBytes = [e0.gate!, e0.up, e0.down].reduce((s, t) => s + byteSize(t.dtype, numel(t.shape)), 0);
  const moeLayers = moe.weights.layers.filter((l) => l.moe).length;
  const all = modelFootprint(moe.weights, m.topK);
  assert.equal(all.weightBytes - all.activeWeightBytes, moeLayers * (m.numExperts - m.topK) * expertBytes);
  assert.equal(modelFootprint(moe.weights, m.numExperts).activeWeightBytes, all.weightBytes);
  const dense = await loadModel(modelDir('stories260K'));
  const d = modelFootprint(dense.weights);
  assert.equal(d.activeWeightBytes, d.weightBytes);
  assert.ok(d.weightBytes > 0);
});
