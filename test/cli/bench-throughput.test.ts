// tsllm bench throughput end to end on the demo preset: exact token counts, every scheduler, prefix
// hits on the shared-prefix dataset, preemptions under a tight KV budget, and flag errors.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tsllm } from '../helpers/cli.js';

const base = ['bench', 'throughput', '-m', 'demo', '--load-format', 'dummy', '--json', '--kv-cache-memory', '64MiB'];

function run(args: string[]) {
  const r = tsllm([...base, ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('tsllm bench throughput', () => {
  for (const scheduler of ['continuous', 'static', 'sequential']) {
    it(`--scheduler ${scheduler} reports every token`, () => {
      const r = run(['--scheduler', scheduler, '--num-prompts', '6', '--input-len', '20', '--output-len', '5']);
      assert.equal(r.numRequests, 6);
      assert.equal(r.totalInputTokens, 120);
      assert.equal(r.totalOutputTokens, 30);
      assert.ok(r.requestsPerSecond > 0 && r.ttftMs.median > 0 && r.ttftMs.median <= r.e2eMs.median);
      assert.equal(r.engineConfig.maxNumSeqs, scheduler === 'sequential' ? 1 : 256);
      assert.equal(r.engineConfig.scheduler, scheduler === 'static' ? 'static' : 'continuous');
    });
  }

  it('the shared-prefix dataset hits the prefix cache, and misses it when caching is off', () => {
    const args = ['--dataset', 'prefix-repetition', '--num-prompts', '4', '--prefix-len', '64', '--suffix-len', '8', '--output-len', '2', '--max-concurrency', '1'];
    const on = run(args);
    // The first request finds nothing; each later one finds the 64-token prefix of its 72.
    assert.equal(on.prefixCacheHitRate, (3 * 64) / (4 * 72));
    const off = run([...args, '--no-enable-prefix-caching']);
    assert.equal(off.prefixCacheHitRate, 0);
  });

  it('a tight KV budget preempts and still finishes every request', () => {
    const r = run(['--num-prompts', '8', '--input-len', '40', '--output-len', '40', '--kv-cache-memory', '400KiB', '--block-size', '4']);
    assert.ok(r.numPreemptions > 0);
    assert.equal(r.totalOutputTokens, 320);
  });

  it('bad flags get a one-line error', () => {
    const r = tsllm([...base, '--kv-cache-memory', 'lots']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /expected a size such as 2GiB/);
  });
});
