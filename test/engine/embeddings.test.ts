// Embedding requests against Hugging Face's numbers: the lm head is linear, so an un-normalized pooled
// hidden state times the head must give the golden logits (last token: the last position's, mean: the
// mean of every position's, CLS: the first position's). Pooling must not depend on the batch: chunked,
// preempted, prefix-cached and mixed with generation, the vectors are the same.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EngineCore } from '../../src/engine/engine-core.js';
import { resolveEngineConfig, type EngineConfigInput } from '../../src/engine/engine-config.js';
import { poolingFor, type PoolingParams } from '../../src/engine/pooling/pooler.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import { kvBytesPerToken } from '../../src/kernels/kv-cache-dtype.js';
import { toFloat32 } from '../../src/kernels/tensor.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadHfWeights, readHfConfig } from '../../src/model/loaders/hf-folder.js';
import { DEFAULT_POOLING } from '../../src/model/pooling-config.js';
import { UsageError } from '../../src/util/errors.js';
import { testBackends } from '../helpers/backends.js';
import { runToCompletion } from '../helpers/engine.js';
import { maxAbsDiff, modelDir, readJson, type ModelGolden } from '../helpers/fixtures.js';

const backend = testBackends().at(-1)!;

for (const name of ['llama-gqa', 'qwen3-qknorm'] as const) {
  describe(`embeddings on fixture ${name} (${backend.name})`, () => {
    const dir = modelDir(name);
    const config = readHfConfig(dir);
    const weights = loadHfWeights(dir, config);
    const model = new CausalLM(config, weights, backend.make());
    const golden = readJson<ModelGolden>(path.join(dir, 'golden.json'));
    const head = toFloat32(weights.lmHead);
    const H = config.hiddenSize;
    const V = config.vocabSize;
    const logitsOf = (e: Float32Array) => {
      const out = new Float32Array(V);
      for (let v = 0; v < V; v++) {
        let s = 0;
        for (let i = 0; i < H; i++) s += head[v * H + i]! * e[i]!;
        out[v] = s;
      }
      return out;
    };
    const withAll = golden.prompts.find((p) => p.all_logits)!;

    const embed = (cfg: EngineConfigInput, requests: { id: string; prompt: number[]; pooling: PoolingParams }[], generate: number[][] = []) => {
      // A float32 cache, so that the goldens' float32 numbers are the reference.
      const core = new EngineCore(model, null, resolveEngineConfig(config, { kvCacheMemory: 64 << 20, kvCacheDtype: 'f32', ...cfg }));
      generate.forEach((p, i) => core.addRequest({ id: `gen-${i}`, promptIds: p, params: makeSamplingParams({ temperature: 0, maxTokens: 32, ignoreEos: true }) }));
      for (const r of requests) core.addRequest({ id: r.id, promptIds: r.prompt, params: makeSamplingParams({ maxTokens: 1 }), pooling: r.pooling });
      const out = runToCompletion(core);
      assert.equal(core.kv.pool.numFree, core.kv.numBlocks, 'every block is free at the end');
      return { core, out, vec: (id: string) => out.get(id)!.finish!.embedding! };
    };
    const raw = (type: PoolingParams['type']): PoolingParams => ({ type, normalize: false });

    it('last-token pooling times the head gives the golden last logits', () => {
      const { vec } = embed({}, golden.prompts.map((p, i) => ({ id: `p${i}`, prompt: p.input_ids, pooling: raw('last') })));
      golden.prompts.forEach((p, i) => {
        const e = vec(`p${i}`);
        assert.equal(e.length, H);
        assert.ok(maxAbsDiff(logitsOf(e), p.last_logits) < 1e-4, p.name);
      });
    });

    it('mean and CLS pooling give the mean and the first of the golden per-position logits', () => {
      const { vec, out } = embed({}, [{ id: 'mean', prompt: withAll.input_ids, pooling: raw('mean') }, { id: 'cls', prompt: withAll.input_ids, pooling: raw('cls') }]);
      const all = withAll.all_logits!;
      const mean = all[0]!.map((_, v) => all.reduce((s, row) => s + row[v]!, 0) / all.length);
      assert.ok(maxAbsDiff(logitsOf(vec('mean')), mean) < 1e-4);
      assert.ok(maxAbsDiff(logitsOf(vec('cls')), all[0]!) < 1e-4);
      const fin = out.get('mean')!.finish!;
      assert.equal(fin.finishReason, 'stop');
      assert.deepEqual(fin.tokenIds, []);
      assert.equal(fin.numPromptTokens, withAll.input_ids.length);
    });

    it('the same vectors chunked, preempted, prefix-cached and beside generation; generation unchanged', () => {
      const long = golden.prompts.at(-1)!.input_ids;
      const requests = (['mean', 'cls', 'last'] as const).flatMap((type) => [
        { id: `${type}-long`, prompt: long, pooling: raw(type) },
        { id: `${type}-again`, prompt: long, pooling: raw(type) },
        { id: `${type}-short`, prompt: long.slice(0, 23), pooling: raw(type) },
      ]);
      const alone = embed({ maxNumSeqs: 1, enablePrefixCaching: false }, requests);
      const blockBytes = kvBytesPerToken('f32', config.numLayers, config.numKvHeads, config.headDim, 2) * 4;
      const prompts = golden.prompts.map((p) => p.input_ids);
      const busy = embed({ blockSize: 4, maxNumBatchedTokens: 13, kvCacheMemory: 40 * blockBytes }, requests, prompts);
      assert.ok(requests.some((r) => busy.out.get(r.id)!.finish!.numPreemptions! > 0), 'the budget preempts embedding requests');
      assert.ok(busy.core.kv.stats.hits > 0, 'prefix-cache hits happened');
      for (const r of requests) assert.ok(maxAbsDiff(busy.vec(r.id), alone.vec(r.id)) < 1e-5, r.id);
      golden.prompts.forEach((p, i) => assert.deepEqual(busy.out.get(`gen-${i}`)!.tokens, p.greedy_new_tokens));
    });

    it('normalizes, cuts Matryoshka dimensions, and takes a prompt as long as the context', () => {
      const prompt = golden.prompts[2]!.input_ids;
      const { vec } = embed({}, [
        { id: 'raw', prompt, pooling: raw('last') },
        { id: 'unit', prompt, pooling: { type: 'last', normalize: true } },
        { id: 'cut', prompt, pooling: poolingFor({ ...DEFAULT_POOLING, matryoshka: [] }, H, 16) },
      ]);
      const norm = (v: Float32Array) => Math.hypot(...v);
      assert.ok(Math.abs(norm(vec('unit')) - 1) < 1e-6);
      const r = vec('raw');
      assert.ok(maxAbsDiff(vec('unit'), r.map((x) => x / norm(r))) < 1e-6);
      const head16 = r.slice(0, 16);
      assert.ok(maxAbsDiff(vec('cut'), head16.map((x) => x / norm(head16))) < 1e-6);

      const full = Array.from({ length: 64 }, (_, i) => (i * 7) % V);
      const ctx = embed({ maxModelLen: 64 }, [{ id: 'full', prompt: full, pooling: raw('last') }]);
      assert.equal(ctx.vec('full').length, H);
      const core = new EngineCore(model, null, resolveEngineConfig(config, { kvCacheMemory: 64 << 20, maxModelLen: 64 }));
      assert.throws(() => core.addRequest({ id: 'x', promptIds: [...full, 1], params: makeSamplingParams(), pooling: raw('last') }), /maximum context length is 64/);
    });

    it('dimensions: only where the model allows, within its size', () => {
      assert.throws(() => poolingFor(DEFAULT_POOLING, H, 16), (e: Error) => e instanceof UsageError && /does not support matryoshka/.test(e.message));
      assert.deepEqual(poolingFor(DEFAULT_POOLING, H, H), { type: 'last', normalize: true });
      assert.throws(() => poolingFor({ ...DEFAULT_POOLING, matryoshka: [] }, H, H + 1), /more than the model's/);
      assert.throws(() => poolingFor({ ...DEFAULT_POOLING, matryoshka: [8, 32] }, H, 16), /trained for \(8, 32\)/);
      assert.throws(() => poolingFor({ ...DEFAULT_POOLING, matryoshka: [] }, H, 0), /positive integer/);
    });
  });
}
