// Two hosts for real: rank 0 in this process's network namespace, rank 1 (`tsllm worker`, the second
// tensor-parallel rank or the second pipeline stage) in a namespace of its own, joined by a veth pair
// with an address at each end, so every collective and stage-to-stage send crosses a network stack between different addresses (no shared memory: the ranks bind different
// addresses). Needs root for `ip netns`; the namespace is made and removed here.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { LLM } from '../../src/engine/llm.js';
import { modelDir, readJson, type ModelGolden } from '../helpers/fixtures.js';
import { GLOO_BUILT } from '../helpers/gloo.js';
import { CLI, freePort } from '../helpers/serve-process.js';
import { assertSameOutputs } from '../helpers/parallel-outputs.js';

const root = process.getuid?.() === 0;
const ipFound = spawnSync('ip', ['-V']).status === 0;
const required = process.env['TSLLM_REQUIRE_GLOO'] === '1';
const skip = required ? false : !GLOO_BUILT ? 'no Gloo addon' : !root ? 'network namespaces need root' : !ipFound ? 'no ip (iproute2)' : false;

const tag = String(process.pid % 100000);
const NS = `tsllm${tag}`;
const [VA, VB] = [`tva${tag}`, `tvb${tag}`];
const net8 = 100 + (process.pid % 100);
const [A, B] = [`10.${net8}.0.1`, `10.${net8}.0.2`];

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

describe('tensor and pipeline parallelism across two network namespaces', { skip, concurrency: 1 }, () => {
  before(() => {
    assert.ok(root && ipFound && GLOO_BUILT, 'this test needs root, ip and the Gloo addon (TSLLM_REQUIRE_GLOO=1)');
    ip('netns', 'add', NS);
    ip('link', 'add', VA, 'type', 'veth', 'peer', 'name', VB);
    ip('link', 'set', VB, 'netns', NS);
    ip('addr', 'add', `${A}/24`, 'dev', VA);
    ip('link', 'set', VA, 'up');
    ip('netns', 'exec', NS, 'ip', 'addr', 'add', `${B}/24`, 'dev', VB);
    ip('netns', 'exec', NS, 'ip', 'link', 'set', VB, 'up');
    ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
  });
  after(() => {
    spawnSync('ip', ['netns', 'del', NS]);
    spawnSync('ip', ['link', 'del', VA]);
  });

  const cases = [
    ['llama-gqa', 'tp'], ['gemma3', 'tp'], ['qwen3moe', 'ep'], ['deepseek-v3', 'tp'], ['llama-gqa', 'pp'], ['deepseek-v3', 'pp'],
  ] as const;
  for (const [name, layout] of cases) {
    const ep = layout === 'ep';
    const pp = layout === 'pp';
    it(`${name} (${pp ? 'PP=2' : ep ? 'EP=2' : 'TP=2'}): rank 1 in its own namespace gives one process's tokens and logprobs`, { timeout: 120_000 }, async () => {
      const golden = readJson<ModelGolden>(`${modelDir(name)}/golden.json`);
      const prompts = golden.prompts.map((p) => p.input_ids);
      const model = { model: modelDir(name), kvCacheDtype: 'f32' as const };
      const params = { temperature: 0, maxTokens: 8, ignoreEos: true, logprobs: 5 };
      const ref = new LLM(model);
      const want = await ref.generate(prompts, params);
      await ref.close();

      const master = `${A}:${await freePort(A)}`;
      const split = pp ? { pipelineParallelSize: 2 } : { tensorParallelSize: 2, enableExpertParallel: ep };
      const llm = new LLM({ ...model, ...split, distributedMaster: master, distributedBindHost: A, distributedTimeoutMs: 10_000 });
      const worker: ChildProcess = spawn('ip', ['netns', 'exec', NS, process.execPath, CLI, 'worker', '-m', modelDir(name), '--rank', '1', '--world-size', '2',
        '--master', master, '--distributed-bind-host', B, ...(ep ? ['--enable-expert-parallel'] : []), ...(pp ? ['--pipeline-parallel-size', '2'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      worker.stderr!.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => worker.on('exit', (c) => resolve(c)));
      try {
        assertSameOutputs(await llm.generate(prompts, params), want, `${name} over the veth pair`);
      } finally {
        await llm.close();
      }
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, new RegExp(`rank 1 of 2 joined ${master.replace(/\./g, '\\.')}`));
    });
  }
});
