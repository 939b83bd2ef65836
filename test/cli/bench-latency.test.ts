// tsllm bench latency end to end on a fixture: in one process, and through the engine over ranks
// (-tp 2, -pp 2), where the prefill and decode times come from the engine's request timelines.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tsllm } from '../helpers/cli.js';
import { modelDir } from '../helpers/fixtures.js';
import { skipWithoutGloo } from '../helpers/gloo.js';

const base = ['bench', 'latency', '-m', modelDir('llama-gqa'), '--input-len', '12', '--output-len', '6', '--batch-size', '3', '--num-iters', '2', '--warmup-iters', '1', '--json'];

function run(args: string[]) {
  const r = tsllm([...base, ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { batchSize: number; results: { engine: string; prefillTokensPerSecond: number; decodeTokensPerSecond: number; samples: { prefillTokens: number; decodeSteps: number }[] }[] };
}

function check(r: ReturnType<typeof run>, engine: RegExp, decodeSteps: number): void {
  assert.equal(r.results.length, 1);
  const [res] = r.results;
  assert.match(res!.engine, engine);
  assert.equal(res!.samples.length, 2, 'one sample per timed iteration');
  for (const s of res!.samples) {
    assert.equal(s.prefillTokens, 3 * 12);
    assert.equal(s.decodeSteps, decodeSteps);
  }
  assert.ok(res!.prefillTokensPerSecond > 0 && Number.isFinite(res!.prefillTokensPerSecond));
  assert.ok(res!.decodeTokensPerSecond > 0 && Number.isFinite(res!.decodeTokensPerSecond));
}

describe('tsllm bench latency', () => {
  it('in one process: prefill and the decode steps timed apart', () => {
    check(run([]), /threads\)$/, 6);
  });

  for (const layout of [['-tp', '2'], ['-pp', '2']]) {
    it(`${layout.join(' ')}: through the engine over the ranks`, { skip: skipWithoutGloo, timeout: 120_000 }, () => {
      check(run(layout), new RegExp(layout[0] === '-tp' ? '-tp 2 -pp 1' : '-tp 1 -pp 2'), 5);
    });
  }

  it("native kernels: the read bandwidth measured before each timed iteration, and decode's share of it", () => {
    const r = run(['--backend', 'native']) as ReturnType<typeof run> & { readGBps?: number; readGBpsSamples: number[]; decodeStepBytes: number };
    assert.equal(r.readGBpsSamples.length, 2, 'one measurement per timed iteration');
    for (const g of r.readGBpsSamples) assert.ok(g > 0.1 && g < 10_000, `read ${g} GB/s`);
    assert.equal(r.readGBps, Math.max(...r.readGBpsSamples), 'the best measurement is the roofline');
    const table = tsllm(base.filter((a) => a !== '--json').concat(['--backend', 'native']));
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /% of read/);
    assert.match(table.stdout, /read bandwidth \d+\.\d GB\/s: the best of 2 measurements \(\d+\.\d, \d+\.\d\)/);
    const off = run(['--backend', 'native', '--no-roofline']) as ReturnType<typeof run> & { readGBps?: number; readGBpsSamples: number[] };
    assert.equal(off.readGBps, undefined);
    assert.deepEqual(off.readGBpsSamples, []);
    assert.doesNotMatch(tsllm(base.filter((a) => a !== '--json').concat(['--backend', 'reference'])).stdout, /% of read/, 'no native kernels, no read bandwidth');
  });

  it('with ranks, an output of one token is refused with the reason', { skip: skipWithoutGloo }, () => {
    const r = tsllm([...base, '--output-len', '1', '-pp', '2']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--output-len must be at least 2 with -tp\/-pp/);
  });
});
