// One rank's shard: about half of the weights each at TP=2, row slices as views of the loaded bytes,
// and splits that would cut a quantization block refused with the reason.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../../src/model/load-model.js';
import { shardForTensorParallel, sliceColumns, sliceRows } from '../../src/model/parallel/tensor-parallel-shard.js';
import type { ModelWeights } from '../../src/model/weights.js';
import { quantizeRowsReference } from '../../src/kernels/quantize.js';
import { weightFromF32 } from '../../src/kernels/tensor.js';
import { modelDir } from '../helpers/fixtures.js';

/** Bytes of every distinct tensor a rank holds (a tied head counted once). */
function heldBytes(w: ModelWeights): number {
  const seen = new Set<Uint8Array>();
  const walk = (v: unknown): void => {
    if (!v || typeof v !== 'object') return;
    if (v instanceof Uint8Array) {
      seen.add(v);
      return;
    }
    if (ArrayBuffer.isView(v)) return;
    Object.values(v as object).forEach(walk);
  };
  walk(w);
  return [...seen].reduce((n, d) => n + d.byteLength, 0);
}

describe('tensor-parallel shards', () => {
  for (const name of ['llama-gqa', 'mixtral-moe', 'deepseek-v3']) {
    it(`${name}: each of 2 ranks holds at most 0.55x of the matrices' bytes`, async () => {
      const { config, weights } = await loadModel(modelDir(name));
      const full = heldBytes(weights);
      for (const rank of [0, 1]) {
        for (const expertParallel of config.moe ? [false, true] : [false]) {
          const shard = shardForTensorParallel(config, weights, { rank, size: 2, expertParallel });
          const ratio = heldBytes(shard.weights) / full;
          assert.ok(ratio <= 0.55, `rank ${rank}${expertParallel ? ' EP' : ''}: ${ratio.toFixed(3)} of TP=1's bytes`);
          assert.ok(ratio >= 0.4, `rank ${rank}: ${ratio.toFixed(3)}: the split lost weights`);
          assert.equal(shard.config.numHeads, config.numHeads / 2);
        }
      }
    });
  }

  it('row slices are views; column slices copy the right columns', () => {
    const m = weightFromF32(Float32Array.from({ length: 4 * 6 }, (_, i) => i), [4, 6]);
    const rows = sliceRows(m, 1, 3);
    assert.equal(rows.data.buffer, m.data.buffer);
    assert.deepEqual([...new Float32Array(rows.data.slice().buffer)], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    const cols = sliceColumns(m, 2, 5);
    assert.deepEqual([...new Float32Array(cols.data.buffer)], [2, 3, 4, 8, 9, 10, 14, 15, 16, 20, 21, 22]);
  });

  it('refuses a column split inside a quantization block', () => {
    const q = quantizeRowsReference(new Float32Array(2 * 64).fill(0.5), [2, 64], 'q8_0');
    assert.equal(sliceColumns(q, 32, 64).shape[1], 32);
    assert.throws(() => sliceColumns(q, 16, 64), /q8_0 matrix \[2, 64\] cannot be split at column 16 \(blocks of 32\)/);
  });
});
