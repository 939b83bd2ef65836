// Batching must not change results: on every fixture architecture, each request's greedy tokens are
// the same alone, 16 at once with mixed lengths, under chunked prefill at small budgets, after
// preemption and recompute, with prefix-cache hits, and in static batches; and the fixture prompts'
// tokens equal Hugging Face's.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EngineCore } from '../../src/engine/engine-core.js';
import { type NewRequest } from '../../src/engine/engine-requests.js';
import { resolveEngineConfig, type EngineConfigInput } from '../../src/engine/engine-config.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import { TextGenerator } from '../helpers/text-generator.js';
import { kvBytesPerToken } from '../../src/kernels/kv-cache-dtype.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadHfWeights, readHfConfig } from '../../src/model/loaders/hf-folder.js';
import { testBackends } from '../helpers/backends.js';
import { runToCompletion } from '../helpers/engine.js';
import { MODEL_FIXTURES, modelDir, readJson, type ModelGolden } from '../helpers/fixtures.js';

const backend = testBackends().at(-1)!.name === 'native-generic' ? testBackends()[1]! : testBackends()[0]!;

/** 16 prompts: the 4 golden ones, their prefixes, and prompts sharing their first tokens. */
function workload(golden: ModelGolden): { id: string; prompt: number[]; maxTokens: number }[] {
  const base = golden.prompts.map((p) => p.input_ids);
  const list = base.map((p, i) => ({ id: `golden-${i}`, prompt: p, maxTokens: 32 }));
  const long = base[3]!;
  for (let i = 0; i < 12; i++) {
    const len = 3 + ((i * 37) % (long.length - 3));
    const prompt = i % 3 === 0 ? long.slice(0, len) : [...long.slice(0, len), ...base[1]!.slice(0, (i % 5) + 1)];
    list.push({ id: `mixed-${i}`, prompt, maxTokens: 5 + ((i * 11) % 28) });
  }
  return list;
}

for (const name of MODEL_FIXTURES) {
  describe(`engine on fixture ${name} (${backend.name})`, () => {
    const dir = modelDir(name);
    const config = readHfConfig(dir);
    const model = new CausalLM(config, loadHfWeights(dir, config), backend.make());
    const golden = readJson<ModelGolden>(path.join(dir, 'golden.json'));
    const work = workload(golden);
    const params = (maxTokens: number) => makeSamplingParams({ temperature: 0, maxTokens, ignoreEos: true });
    const alone = new Map(work.map((w) => [w.id, new TextGenerator(model, null).complete(w.prompt, params(w.maxTokens)).tokenIds]));

    const run = (cfg: EngineConfigInput, requests = work) => {
      const core = new EngineCore(model, null, resolveEngineConfig(config, { kvCacheMemory: 64 << 20, ...cfg }));
      for (const w of requests) core.addRequest({ id: w.id, promptIds: w.prompt, params: params(w.maxTokens) } satisfies NewRequest);
      const out = runToCompletion(core);
      assert.equal(core.kv.pool.numFree, core.kv.numBlocks, 'every block is free at the end');
      return { core, out };
    };
    const assertSameAsAlone = (out: Map<string, { tokens: number[] }>) => {
      for (const w of work) assert.deepEqual(out.get(w.id)!.tokens, alone.get(w.id), w.id);
    };

    it('alone, the golden prompts give Hugging Face\'s greedy tokens', () => {
      golden.prompts.forEach((p, i) => assert.deepEqual(alone.get(`golden-${i}`), p.greedy_new_tokens));
      assertSameAsAlone(run({ maxNumSeqs: 1 }).out);
    });

    it('16 at once with mixed lengths', () => {
      assertSameAsAlone(run({ maxNumSeqs: 16 }).out);
    });

    it('chunked prefill at budgets of 5 and 17 tokens', () => {
      assertSameAsAlone(run({ maxNumBatchedTokens: 5 }).out);
      assertSameAsAlone(run({ maxNumBatchedTokens: 17 }).out);
    });

    it('preemption and recompute under a tight KV budget', () => {
      const blockBytes = kvBytesPerToken('f16', config.numLayers, config.numKvHeads, config.headDim, config.mla ? 1 : 2) * 4;
      const { core, out } = run({ blockSize: 4, kvCacheMemory: 40 * blockBytes });
      assert.ok(core.scheduler.numPreemptions > 0, 'the budget forces preemptions');
      assertSameAsAlone(out);
    });

    it('prefix-cache hits', () => {
      const { core, out } = run({ blockSize: 4 }, [...work, ...work.map((w) => ({ ...w, id: `again-${w.id}` }))]);
      assert.ok(core.kv.stats.hits > 0);
      assertSameAsAlone(out);
      for (const w of work) assert.deepEqual(out.get(`again-${w.id}`)!.tokens, alone.get(w.id));
    });

    it('static batches', () => {
      assertSameAsAlone(run({ scheduler: 'static', maxNumSeqs: 6 }).out);
    });

    // A quantized cache changes the numbers but must not make them depend on the batch: blocks written
    // by a chunk, shared through the prefix cache or rewritten after preemption read back the same.
    for (const kvCacheDtype of ['int4', 'fp8_e4m3'] as const) {
      it(`${kvCacheDtype} KV cache: batched, chunked, preempted and prefix-cached runs equal generating alone`, () => {
        const aloneQ = new Map(work.map((w) => [w.id, new TextGenerator(model, null, { kvCacheDtype }).complete(w.prompt, params(w.maxTokens)).tokenIds]));
        const blockBytes = kvBytesPerToken(kvCacheDtype, config.numLayers, config.numKvHeads, config.headDim, config.mla ? 1 : 2) * 4;
        const twice = [...work, ...work.map((w) => ({ ...w, id: `again-${w.id}` }))];
        const { core, out } = run({ kvCacheDtype, blockSize: 4, maxNumBatchedTokens: 17, kvCacheMemory: 60 * blockBytes }, twice);
        assert.ok(core.scheduler.numPreemptions > 0 && core.kv.stats.hits > 0, 'preemptions and prefix-cache hits happened');
        for (const w of twice) assert.deepEqual(out.get(w.id)!.tokens, aloneQ.get(w.id.replace('again-', '')), w.id);
      });
    }
  });
}
