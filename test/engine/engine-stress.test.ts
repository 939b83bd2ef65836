// 1,000 requests with random lengths, random arrivals and random aborts through a KV cache far too
// small for them: nothing leaks, the pool's accounting holds after every step, every request ends
// exactly once, and preempted requests still produce what they would have alone.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EngineCore } from '../../src/engine/engine-core.js';
import { resolveEngineConfig } from '../../src/engine/engine-config.js';
import { Rng } from '../../src/util/rng.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import { TextGenerator } from '../helpers/text-generator.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadModel } from '../../src/model/load-model.js';
import { testBackends } from '../helpers/backends.js';
import { FIXTURES, modelDir } from '../helpers/fixtures.js';

const TOTAL = 1000;

for (const policy of ['fcfs', 'priority'] as const) {
  describe(`engine under churn (${policy})`, () => {
    it(`${TOTAL} requests, random aborts, tight KV budget: no leaks, consistent accounting`, async () => {
      const loaded = await loadModel(modelDir('stories260K'), { tokenizer: path.join(FIXTURES, 'tokenizers', 'tok512') });
      const model = new CausalLM(loaded.config, loaded.weights, testBackends().at(-1)!.make());
      const c = loaded.config;
      const blockBytes = 4 * 2 * c.numLayers * c.numKvHeads * c.headDim * 4;
      const core = new EngineCore(model, loaded.tokenizer, resolveEngineConfig(c, {
        blockSize: 4, kvCacheMemory: 48 * blockBytes, maxNumBatchedTokens: 64, maxNumSeqs: 24, schedulingPolicy: policy,
      }));
      const rng = new Rng(policy === 'fcfs' ? 1 : 2);
      const pick = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
      const sharedPrefix = Array.from({ length: 24 }, () => pick(3, 511));
      const prompts = new Map<string, { prompt: number[]; maxTokens: number }>();
      const ended = new Map<string, { reason: string; tokens: number[] }>();
      const tokens = new Map<string, number[]>();
      let added = 0;
      let step = 0;

      while (added < TOTAL || core.hasWork) {
        const arrivals = added < TOTAL ? pick(0, 4) : 0;
        for (let i = 0; i < arrivals && added < TOTAL; i++, added++) {
          const id = `r${added}`;
          const own = Array.from({ length: pick(1, 60) }, () => pick(3, 511));
          const prompt = rng.next() < 0.3 ? [...sharedPrefix, ...own] : own;
          const maxTokens = pick(1, 40);
          prompts.set(id, { prompt, maxTokens });
          core.addRequest({ id, promptIds: prompt, params: makeSamplingParams({ temperature: 0, maxTokens, ignoreEos: true }), priority: pick(0, 3) });
        }
        if (rng.next() < 0.15 && added > 0) core.abort(`r${pick(0, added - 1)}`);
        for (const o of core.step()) {
          assert.ok(!ended.has(o.requestId), `${o.requestId} ended twice`);
          const t = tokens.get(o.requestId) ?? [];
          t.push(...o.tokenIds);
          tokens.set(o.requestId, t);
          if (o.finishReason) ended.set(o.requestId, { reason: o.finishReason, tokens: t });
        }
        const problems = core.kv.audit();
        assert.deepEqual(problems, [], `step ${step}`);
        step++;
      }

      assert.equal(ended.size, TOTAL, 'every request ended');
      assert.equal(core.kv.pool.numFree, core.kv.numBlocks, 'every block is free again');
      assert.equal(core.kv.numRequestsHoldingBlocks, 0);
      assert.ok(core.scheduler.numPreemptions > 20, `preemptions: ${core.scheduler.numPreemptions}`);
      assert.ok(core.kv.stats.hits > 0);
      const reasons = [...ended.values()].map((e) => e.reason);
      assert.ok(reasons.includes('abort') && reasons.includes('length'));

      // Requests that ran to the end, preempted or not, match generation alone.
      const gen = new TextGenerator(model, loaded.tokenizer);
      let checked = 0;
      for (const [id, e] of ended) {
        if (e.reason !== 'length' || checked >= 60) continue;
        const { prompt, maxTokens } = prompts.get(id)!;
        assert.equal(e.tokens.length, Math.min(maxTokens, core.maxSequenceTokens - prompt.length), id);
        assert.deepEqual(e.tokens, gen.complete(prompt, makeSamplingParams({ temperature: 0, maxTokens, ignoreEos: true })).tokenIds.slice(0, e.tokens.length), id);
        checked++;
      }
    });
  });
}
