// bench sweep against the calculator's prediction, and the experiment runner end to end on a small
// model: tables, charts (SVG and PNG), and a markdown section that a rerun replaces.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runExperiments, spliceExperiments, EXPERIMENTS_START } from '../../src/bench/experiments.js';
import { explainMiss } from '../../src/bench/sweep.js';
import { HARDWARE } from '../../src/calc/hardware.js';
import { countParams, kvBytesPerToken } from '../../src/calc/model-math.js';
import { decodeStep } from '../../src/calc/roofline.js';
import { presetConfig } from '../../src/model/loaders/dummy.js';
import { tsllmAsync } from '../helpers/cli.js';
import { modelDir } from '../helpers/fixtures.js';

const PNG_MAGIC = '89504e470d0a1a0a';

describe('tsllm bench sweep', () => {
  it('measures each batch size and sets the roofline prediction beside it, with charts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsllm-sweep-'));
    const r = await tsllmAsync(['bench', 'sweep', '-m', 'demo', '--load-format', 'dummy', '--batch-sizes', '1,3', '--input-len', '8', '--output-len', '2',
      '--hardware', 'cpu', '--no-measure', '--out-dir', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(j.points.map((p: any) => p.batch), [1, 3]);
    // The prediction is the calculator's, for the demo model's f32 weights and f32 KV at the mean context.
    const c = presetConfig('demo');
    const shape = { weightBytes: countParams(c).total * 4, kvBytesPerToken: kvBytesPerToken(c, 'f32'), context: 9 };
    for (const p of j.points) {
      const d = decodeStep(c, HARDWARE['cpu']!, shape, p.batch);
      assert.ok(Math.abs(p.predictedTokensPerSecond - d.tokensPerSecond) / d.tokensPerSecond < 1e-9);
      assert.ok(p.measuredTokensPerSecond > 0);
      assert.equal(p.error, (p.predictedTokensPerSecond - p.measuredTokensPerSecond) / p.measuredTokensPerSecond);
    }
    assert.equal(j.within30 + j.misses.length, 2);
    for (const f of [j.charts.throughput.png, j.charts.latency.png]) assert.equal(fs.readFileSync(f).subarray(0, 8).toString('hex'), PNG_MAGIC);
    assert.match(fs.readFileSync(j.charts.throughput.svg, 'utf8'), /^<svg[^>]*>[\s\S]*measured[\s\S]*roofline prediction/);
  });

  it('explains a miss beyond 30%, and nothing within it', () => {
    const p = { batch: 4, measuredTokensPerSecond: 10, measuredStepMs: 400, predictedTokensPerSecond: 20, predictedStepMs: 200, predictedBound: 'memory' as const, error: 1 };
    assert.match(explainMiss(p, 50, 200)!, /batch 4: the step takes 400.0 ms against a memory-bound 200.0 ms; 200.0 ms go to work the roofline does not count/);
    assert.equal(explainMiss({ ...p, error: 0.2 }, 50, 200), null);
    assert.match(explainMiss({ ...p, measuredStepMs: 280, predictedBound: 'compute' }, 200, 150)!, /near the ridge point compute \(200.0 ms\) and memory \(150.0 ms\) overlap only in part, so the step \(280.0 ms\) lies between their max and their sum \(350.0 ms\)/);
    assert.match(explainMiss({ ...p, measuredStepMs: 100, error: -0.5 }, 50, 200)!, /faster than the roofline/);
  });
});

describe('tsllm bench experiments', () => {
  it('runs all five on a small model and writes tables and charts, replacing its own section', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsllm-exp-'));
    const opts = {
      engine: { model: modelDir('stories260K'), kvCacheMemory: 8 << 20, backend: 'native' as const },
      only: ['kv-cache', 'batching', 'prefix-caching', 'kv-dtype', 'spec-decode'] as const,
      kvPromptLen: 8,
      kvOutputLens: [4, 16],
      batching: { numPrompts: 6, inputLen: 16, outputLen: 8, rangeRatio: 0.5 },
      prefix: { numPrompts: 3, prefixLen: 64, suffixLen: 4, outputLen: 2 },
      kvDtype: { context: 60, batchSize: 2, steps: 4, accuracySteps: 16 },
      specDecode: { numPrompts: 2, passageLen: 16, outputLen: 8, batchSizes: [1, 2], numIters: 1 },
      chartsDir: path.join(dir, 'charts'),
      chartsLink: 'charts',
      command: 'tsllm bench experiments (test)',
      log: () => {},
    };
    const report = await runExperiments(opts);
    const md = report.markdown;
    assert.match(md, /### The KV cache on against off[\s\S]*\| 4 \| [\d.]+ \| [\d.]+ \| [\d.]+x \|[\s\S]*\| 16 \|/);
    assert.match(md, /### Static against continuous batching[\s\S]*\| continuous \| [\d.]+ [\s\S]*\| static \| [\d.]+ [\s\S]*x faster \|[\s\S]*\| sequential \|/);
    assert.match(md, /### Prefix caching on against off[\s\S]*\| on \| \d+ \| \d+ \| [\d.]+% \|[\s\S]*\| off \| \d+ \| \d+ \| 0\.0% \|/);
    assert.match(md, /!\[experiment-kv-cache\]\(charts\/experiment-kv-cache\.svg\)/);
    assert.match(md, /Machine: .*cores/);
    assert.equal(md.match(/Run \d{4}-\d\d-\d\d on `[^`]+`:\n\n```sh\ntsllm bench experiments \(test\)\n```/g)?.length, 5, 'every section names its run');
    // stories260K: 5 layers x 4 KV heads of 8 -> f16 640 bytes a token, int8 400, int4 240.
    assert.match(md, /### KV-cache dtypes[\s\S]*\| f16 \| 640 \| \d+ \| 1\.00x \|[\s\S]*\| int8 \| 400 \|[\s\S]*\| int4 \| 240 \| \d+ \| 2\.67x \|/);
    assert.match(md, /\| f32 \| 1280 \| \d+ \| 0\.50x \| [\d.]+ \| [\d.]+x \| [\d.]+ \| 0\.00e\+0 \| 0\.00e\+0 \| 100\.0% \| 100\.0% \|/);
    // The target as its own draft accepts every draft. Each request's 8 tokens take 3 steps: the prefill's
    // token, 4 drafts + 1, then (max_tokens leaves room for) 1 draft + 1: mean acceptance length 3.5.
    assert.match(md, /### Speculative decoding against plain decoding[\s\S]*\| n-gram, k 4 \| 1 \|[\s\S]*\| the target as its own draft, k 4 \| 1 \| [\d.]+ \| [\d.]+ \| [\d.]+x \| [\d.]+x \| 6 of 16 \| 3\.50 \|[\s\S]*\| layer-skip, 4 of 5 layers, k 4 \| 2 \|/);
    assert.equal(report.charts.length, 10);
    for (const f of report.charts.filter((x) => x.endsWith('.png'))) assert.equal(fs.readFileSync(f).subarray(0, 8).toString('hex'), PNG_MAGIC);

    const once = spliceExperiments('# Benchmarks\n\nearlier figures\n', md);
    assert.match(once, /earlier figures[\s\S]*### The KV cache on against off/);
    // A later run of one experiment replaces that section only, and adds what is new.
    const partial = 'Machine: later.\n\n### Prefix caching on against off\n\nnew prefix figures\n\n### Something new\n\nnew section\n';
    const twice = spliceExperiments(once + '\nafter the block\n', partial);
    assert.equal(twice.split(EXPERIMENTS_START).length, 2, 'one block');
    assert.match(twice, /earlier figures[\s\S]*Machine: later\.[\s\S]*### The KV cache on against off[\s\S]*### Prefix caching on against off\n\nnew prefix figures[\s\S]*### KV-cache dtypes[\s\S]*### Something new\n\nnew section\n<!-- tsllm bench experiments: end -->\n\nafter the block/);
    assert.equal(twice.match(/### Prefix caching on against off/g)?.length, 1);
    assert.doesNotMatch(twice, /\| on \| \d+ \| \d+ \| [\d.]+% \|/, 'the old prefix figures are gone');
  });
});
