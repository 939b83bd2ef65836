// A tensor/pipeline-parallel server's life: ranks join only with the master's world size, layout and
// model, and a rank killed mid-request fails the requests in flight with 503, turns /health to 503 and ends the
// server with a non-zero exit within the timeout, leaving no rank behind.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import { modelDir } from '../helpers/fixtures.js';
import { skipWithoutGloo } from '../helpers/gloo.js';
import { alive, childPids, CLI, freePort, startServe, waitHealthy } from '../helpers/serve-process.js';

function worker(args: string[]) {
  return spawnSync(process.execPath, [CLI, 'worker', ...args, '--distributed-bind-host', '127.0.0.1'], { encoding: 'utf8', timeout: 60_000 });
}

describe('tensor- and pipeline-parallel serving', { skip: skipWithoutGloo, concurrency: 1 }, () => {
  it('a rank joins only with the master\'s world size, layout and model; `tsllm worker` then completes the job', { timeout: 120_000 }, async () => {
    const master = `127.0.0.1:${await freePort()}`;
    const s = await startServe(['-m', modelDir('llama-gqa'), '-tp', '2', '--distributed-master', master, '--distributed-bind-host', '127.0.0.1']);
    try {
      const wrongSize = worker(['-m', modelDir('llama-gqa'), '--rank', '1', '--world-size', '4', '--master', master]);
      assert.notEqual(wrongSize.status, 0);
      assert.match(wrongSize.stderr, /rank 1 was started with world size 4, the master has 2/);
      const wrongLayout = worker(['-m', modelDir('llama-gqa'), '--rank', '1', '--world-size', '2', '--pipeline-parallel-size', '2', '--master', master]);
      assert.notEqual(wrongLayout.status, 0);
      assert.match(wrongLayout.stderr, /rank 1 was started as tensor-parallel 1 x pipeline-parallel 2, the master as tensor-parallel 2 x pipeline-parallel 1/);
      const wrongModel = worker(['-m', modelDir('qwen2-bias'), '--rank', '1', '--world-size', '2', '--master', master]);
      assert.notEqual(wrongModel.status, 0);
      assert.match(wrongModel.stderr, /rank 1 loaded a different model/);
      assert.equal((await fetch(`${s.url}/health`)).status, 503, 'still waiting for its rank');

      const good = await import('node:child_process').then(({ spawn }) => spawn(process.execPath,
        [CLI, 'worker', '-m', modelDir('llama-gqa'), '--rank', '1', '--world-size', '2', '--master', master, '--distributed-bind-host', '127.0.0.1'], { stdio: 'ignore' }));
      const goodExit = new Promise<number | null>((resolve) => good.on('exit', (c) => resolve(c)));
      await waitHealthy(s.url);
      const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'none', maxRetries: 0 });
      const r = await client.completions.create({ model: modelDir('llama-gqa'), prompt: [1, 5, 9], max_tokens: 6, temperature: 0 });
      assert.equal(r.usage?.completion_tokens, 6);
      s.child.kill('SIGTERM');
      assert.equal(await s.exited, 0);
      assert.equal(await goodExit, 0, 'the worker leaves when rank 0 shuts down');
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  const layouts = [['-tp', '2'], ['-pp', '2'], ['-tp', '2', '-pp', '2']];
  for (const layout of layouts) it(`${layout.join(' ')}: a rank killed mid-request: 503 for the requests in flight, /health 503, exit non-zero, no orphans`, { timeout: 120_000 }, async () => {
    const s = await startServe(['-m', modelDir('llama-gqa'), ...layout, '--distributed-timeout', '3', '--max-num-seqs', '4']);
    try {
      await waitHealthy(s.url);
      const ranks = childPids(s.child.pid!);
      const world = layout.length === 2 ? 2 : 4;
      assert.equal(ranks.length, world - 1, `serve ${layout.join(' ')} spawned ${world - 1} follower ranks`);
      const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'none', maxRetries: 0 });
      const params = { model: modelDir('llama-gqa'), prompt: [1, 5, 9], max_tokens: 480, temperature: 0, ignore_eos: true };
      const stream = await client.completions.create({ ...params, stream: true });
      const inFlight = Array.from({ length: 3 }, () => client.completions.create(params).then(() => null, (e: unknown) => e));
      const it = stream[Symbol.asyncIterator]();
      await it.next();
      const killedAt = Date.now();
      // The newest rank: the end of the pipeline, or the last stage's second tensor-parallel rank.
      const victim = Math.max(...ranks);
      process.kill(victim, 'SIGKILL');
      const errors = await Promise.all(inFlight);
      for (const e of errors) {
        assert.ok(e instanceof OpenAI.APIError, `a request in flight failed: ${String(e)}`);
        assert.equal(e.status, 503);
        assert.match(e.message, /a rank of the parallel job failed/);
      }
      const health = await fetch(`${s.url}/health`);
      assert.equal(health.status, 503);
      assert.equal((await health.json()).status, 'failed');
      await assert.rejects(async () => {
        for (let x = await it.next(); !x.done; x = await it.next());
      });
      const code = await s.exited;
      assert.notEqual(code, 0);
      assert.ok(Date.now() - killedAt < 10_000, `exited ${Date.now() - killedAt} ms after the kill`);
      for (const pid of ranks) assert.ok(!alive(pid), `rank process ${pid} is gone`);
      assert.deepEqual(childPids(s.child.pid!), []);
    } finally {
      s.child.kill('SIGKILL');
    }
  });
});
