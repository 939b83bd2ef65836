import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeExpositions } from '../../src/router/metrics-merge.js';

const engineText = (running: number) => [
  '# HELP tsllm:num_requests_running Number of requests in model execution batches.',
  '# TYPE tsllm:num_requests_running gauge',
  `tsllm:num_requests_running{model_name="m",engine="0"} ${running}`,
  '',
  '# HELP tsllm:time_to_first_token_seconds Histogram of time to first token in seconds.',
  '# TYPE tsllm:time_to_first_token_seconds histogram',
  'tsllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m",engine="0"} 1',
  'tsllm:time_to_first_token_seconds_sum{model_name="m",engine="0"} 0.05',
  '# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.',
  '# TYPE process_cpu_seconds_total counter',
  'process_cpu_seconds_total 1.5',
].join('\n');

describe('mergeExpositions', () => {
  it('keeps each family once, its samples together, each engine labelled', () => {
    const out = mergeExpositions([{ engine: '0', text: engineText(3) }, { engine: '1', text: engineText(5) }]);
    const lines = out.trim().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('# TYPE tsllm:num_requests_running ')).length, 1);
    assert.equal(lines.filter((l) => l.startsWith('# HELP ')).length, 3);
    const at = lines.indexOf('# TYPE tsllm:num_requests_running gauge');
    assert.deepEqual(lines.slice(at + 1, at + 3), ['tsllm:num_requests_running{model_name="m",engine="0"} 3', 'tsllm:num_requests_running{model_name="m",engine="1"} 5']);
    assert.ok(lines.includes('tsllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m",engine="1"} 1'));
    assert.deepEqual(lines.filter((l) => l.startsWith('process_cpu')), ['process_cpu_seconds_total{engine="0"} 1.5', 'process_cpu_seconds_total{engine="1"} 1.5']);
    // Every sample line follows its family's TYPE line before any other family's.
    let family = '';
    for (const l of lines) {
      const t = /^# TYPE (\S+)/.exec(l);
      if (t) family = t[1]!;
      else if (!l.startsWith('#')) assert.ok(l.startsWith(family), `${l} under ${family}`);
    }
  });
});
