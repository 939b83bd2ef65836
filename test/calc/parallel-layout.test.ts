// calc's parallel layouts: per-rank shares and the communication term, from the ring formulas.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allReduceSeconds, kvShare, parallelLayout, planBroadcastSeconds } from '../../src/calc/parallel-layout.js';
import { presetConfig } from '../../src/model/loaders/dummy.js';
import { decodeStep } from '../../src/calc/roofline.js';
import { tsllm } from '../helpers/cli.js';

const c = presetConfig('tinyllama-1.1b');
const hw = { name: 't', peakFlops: 2e11, bandwidth: 28e9, memory: 24e9 };
const w = { weightBytes: 1.17e9, kvBytesPerToken: 22528, context: 1024 };
const link = { bandwidth: 5e9, latency: 100e-6 };

describe('calc parallel layouts', () => {
  it('TP=2 halves each rank\'s weights and (4 KV heads) its KV; the step adds 2 all-reduces per layer', () => {
    const one = decodeStep(c, hw, w, 1);
    const p = parallelLayout(c, hw, w, 1, 2, 1, link);
    assert.equal(p.weightBytesPerRank, w.weightBytes / 2);
    assert.equal(p.kvBytesPerRank, (1024 * 22528) / 2);
    assert.equal(p.allReducesPerStep, 2 * c.numLayers + 1);
    assert.equal(p.computeOrMemorySeconds, one.stepSeconds / 2);
    // n = 2: each all-reduce is 2 latencies plus the buffer once over the link.
    assert.ok(Math.abs(allReduceSeconds(8192, 2, link) - (2e-4 + 8192 / 5e9)) < 1e-12);
    const logitsGather = link.latency + (Math.ceil(c.vocabSize / 2) * 4) / link.bandwidth;
    const plan = planBroadcastSeconds(1, 1024, 2, link);
    assert.ok(plan >= 2 * link.latency && plan < 2 * link.latency + 1e-6, 'the plan: two small broadcasts');
    assert.ok(Math.abs(p.commSeconds - (p.allReducesPerStep * allReduceSeconds(c.hiddenSize * 4, 2, link) + logitsGather + plan)) < 1e-12);
    assert.equal(p.stepSeconds, p.computeOrMemorySeconds + p.commSeconds);
  });

  it('PP=2: a boundary send per step, half the layers\' weights and KV per rank', () => {
    const p = parallelLayout(c, hw, w, 16, 1, 2, link);
    assert.equal(p.allReducesPerStep, 0);
    assert.ok(Math.abs(p.commSeconds - (link.latency + (16 * c.hiddenSize * 4) / link.bandwidth + planBroadcastSeconds(16, 1024, 2, link))) < 1e-12);
    assert.equal(p.weightBytesPerRank, w.weightBytes / 2);
  });

  it('KV heads fewer than ranks are replicated; latent attention keeps the whole record per rank', () => {
    assert.equal(kvShare({ ...c, numKvHeads: 2 }, 4), 1 / 2);
    assert.equal(kvShare({ ...c, numKvHeads: 8 }, 4), 1 / 4);
    assert.equal(kvShare({ ...c, mla: {} as never }, 4), 1);
  });

  it('tsllm calc -tp 2 prints the per-rank memory and the step with its communication', () => {
    const r = tsllm(['calc', '--preset', 'tinyllama-1.1b', '--dtype', 'q8_0', '--hardware', 'cpu', '-tp', '2', '--link-latency-us', '200', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.parallel.tp, 2);
    assert.equal(report.parallel.weightBytesPerRank, report.weightBytes / 2);
    assert.ok(report.parallel.commSeconds > 45 * 4e-4, 'at least 2 x 200 us per all-reduce');
  });
});
