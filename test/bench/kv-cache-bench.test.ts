// What each KV-cache dtype costs and buys, on real numbers: accuracy against f32 KV on stories260K
// (whose f32 greedy text is run.c's), and `bench kv-cache` end to end on the demo preset.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { kvAccuracy } from '../../src/bench/kv-accuracy.js';
import { kvCapacity } from '../../src/bench/kv-cache-bench.js';
import { tsllm } from '../helpers/cli.js';
import { modelDir, readJson } from '../helpers/fixtures.js';
import { loadStories } from '../helpers/models.js';
import { testBackends } from '../helpers/backends.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';

describe('KV-cache accuracy on stories260K, against f32 KV', async () => {
  const st = await loadStories();
  const model = new CausalLM(st.config, st.weights, testBackends().at(1)?.make() ?? testBackends()[0]!.make());
  const golden = readJson<{ bos_greedy: { input_ids: number[]; runc_ids: number[] } }>(path.join(modelDir('stories260K'), 'golden.json'));
  const r = kvAccuracy(model, [golden.bos_greedy.input_ids], 256, ['f32', 'f16', 'int8', 'fp8_e4m3', 'int4']);
  const row = (d: string) => r.rows.find((x) => x.dtype === d)!;

  it('the reference text is run.c\'s greedy text, and f32 against itself is exact', () => {
    assert.deepEqual(r.references[0], golden.bos_greedy.runc_ids);
    assert.deepEqual({ ...row('f32'), meanNLL: 0 }, { dtype: 'f32', maxAbsLogitDiff: 0, meanKL: 0, greedyAgreement: 1, freeRunAgreement: 1, firstDivergence: [256], meanNLL: 0 });
  });

  it('int8 and fp8_e4m3 keep at least 90% greedy agreement over the 256 tokens', () => {
    for (const d of ['int8', 'fp8_e4m3']) assert.ok(row(d).greedyAgreement >= 0.9, `${d}: ${row(d).greedyAgreement}`);
    assert.equal(row('f16').greedyAgreement, 1);
  });

  it('fewer bits cost more: KL and NLL grow from f16 to int8 to fp8_e4m3 to int4', () => {
    const order = ['f16', 'int8', 'fp8_e4m3', 'int4'].map(row);
    for (let i = 1; i < order.length; i++) {
      assert.ok(order[i]!.meanKL > order[i - 1]!.meanKL, `KL ${order[i]!.dtype} > ${order[i - 1]!.dtype}`);
      assert.ok(order[i]!.maxAbsLogitDiff > order[i - 1]!.maxAbsLogitDiff, `max |Δlogit| ${order[i]!.dtype}`);
    }
    assert.ok(row('int4').meanNLL > row('int8').meanNLL && row('int8').meanNLL > row('f32').meanNLL);
  });
});

describe('tsllm bench kv-cache', () => {
  it('reports capacity and decode speed for each dtype on the demo preset', () => {
    const r = tsllm(['bench', 'kv-cache', '-m', 'demo', '--load-format', 'dummy', '--dtypes', 'f16,int8,int4', '--context', '64', '--batch-size', '2', '--steps', '2', '--num-iters', '1', '--kv-cache-memory', '1MiB', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.rows.map((x: any) => x.dtype), ['f16', 'int8', 'int4']);
    // demo: 4 layers x 2 KV heads of 32 -> f16 1,024 bytes a token, int8 (32 + 2) x 16 = 544, int4 (16 + 2) x 16 = 288.
    assert.deepEqual(out.rows.map((x: any) => x.bytesPerToken), [1024, 544, 288]);
    // Sequences of 64 + 2 tokens take 5 blocks of 16.
    assert.deepEqual(out.rows.map((x: any) => x.sequencesThatFit), [12, 24, 45]);
    for (const x of out.rows) assert.ok(x.decodeTokensPerSecond > 0 && x.samples.length === 1 && x.attentionMsPerStep > 0);
  });

  it('capacity counts whole sequences of whole blocks', async () => {
    const st = await loadStories();
    // stories260K: 5 layers x 4 KV heads of 8 -> int4 records of 6 bytes, 240 bytes a token, 3,840 a block.
    assert.equal(kvCapacity(st.model, 'int4', 3840 * 10, 32), 5);
    assert.equal(kvCapacity(st.model, 'int4', 3840 * 10 - 1, 32), 4);
  });

  it('--accuracy prints the comparison table; bad dtypes are refused', () => {
    const r = tsllm(['bench', 'kv-cache', '--accuracy', '-m', modelDir('stories260K'), '--dtypes', 'f32,int8', '--steps', '8']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /kv dtype\s+max \|Δlogit\|/);
    assert.match(r.stdout, /^int8 /m);
    const bad = tsllm(['bench', 'kv-cache', '-m', 'demo', '--load-format', 'dummy', '--dtypes', 'int3']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /'int3' is not one of f32, f16/);
  });
});
