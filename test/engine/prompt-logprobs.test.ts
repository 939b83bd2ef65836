// Prompt logprobs against Hugging Face's per-position logits: the logprob of prompt token i + 1 is
// log_softmax of the golden logits at position i, its rank and top-N are theirs, and none of it
// depends on chunking, preemption or a warm prefix cache; the sampled tokens stay the greedy goldens.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EngineCore } from '../../src/engine/engine-core.js';
import { resolveEngineConfig, type EngineConfigInput } from '../../src/engine/engine-config.js';
import type { TokenLogprobs } from '../../src/engine/sampling/sampler.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import { kvBytesPerToken } from '../../src/kernels/kv-cache-dtype.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadHfWeights, readHfConfig } from '../../src/model/loaders/hf-folder.js';
import { testBackends } from '../helpers/backends.js';
import { modelDir, readJson, type ModelGolden } from '../helpers/fixtures.js';

const backend = testBackends().at(-1)!;

describe(`prompt logprobs on fixture llama-gqa (${backend.name})`, () => {
  const dir = modelDir('llama-gqa');
  const config = readHfConfig(dir);
  const model = new CausalLM(config, loadHfWeights(dir, config), backend.make());
  const golden = readJson<ModelGolden>(path.join(dir, 'golden.json'));
  const p7 = golden.prompts.find((p) => p.all_logits)!;

  const run = (cfg: EngineConfigInput, prompts: number[][], topN = 3) => {
    const core = new EngineCore(model, null, resolveEngineConfig(config, { kvCacheMemory: 64 << 20, kvCacheDtype: 'f32', ...cfg }));
    prompts.forEach((prompt, i) => core.addRequest({ id: `r${i}`, promptIds: prompt, params: makeSamplingParams({ temperature: 0, maxTokens: 32, ignoreEos: true, promptLogprobs: topN }) }));
    const got = new Map<string, { prompt: TokenLogprobs[] | undefined; tokens: number[]; outputsWithPrompt: number }>();
    while (core.hasWork) {
      for (const o of core.step()) {
        const g = got.get(o.requestId) ?? { prompt: undefined, tokens: [], outputsWithPrompt: 0 };
        if (o.promptLogprobs) {
          g.prompt = o.promptLogprobs;
          g.outputsWithPrompt++;
        }
        g.tokens.push(...o.tokenIds);
        got.set(o.requestId, g);
      }
    }
    return { core, got };
  };

  it('equal log_softmax of the golden logits at the position before each prompt token', () => {
    const { got } = run({}, [p7.input_ids]);
    const r = got.get('r0')!;
    assert.equal(r.outputsWithPrompt, 1);
    assert.deepEqual(r.tokens, p7.greedy_new_tokens);
    const lps = r.prompt!;
    assert.equal(lps.length, p7.input_ids.length - 1);
    lps.forEach((lp, i) => {
      const row = p7.all_logits![i]!;
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      const token = p7.input_ids[i + 1]!;
      assert.equal(lp.token_id, token);
      assert.ok(Math.abs(lp.logprob - (row[token]! - lse)) < 1e-4, `position ${i}`);
      assert.equal(lp.rank, 1 + row.filter((x) => x > row[token]!).length);
      const order = row.map((x, id) => [id, x] as const).sort((a, b) => b[1] - a[1]).slice(0, 3);
      assert.deepEqual(lp.top.map(([id]) => id), order.map(([id]) => id));
      lp.top.forEach(([, v], k) => assert.ok(Math.abs(v - (order[k]![1] - lse)) < 1e-4));
    });
  });

  it('the same chunked, preempted and with the prefix cache warm', () => {
    const prompts = golden.prompts.map((p) => p.input_ids);
    const alone = run({ maxNumSeqs: 1, enablePrefixCaching: false }, prompts);
    const blockBytes = kvBytesPerToken('f32', config.numLayers, config.numKvHeads, config.headDim, 2) * 4;
    const twice = [...prompts, ...prompts];
    const busy = run({ blockSize: 4, maxNumBatchedTokens: 5, kvCacheMemory: 40 * blockBytes }, twice);
    assert.ok(busy.core.scheduler.numPreemptions > 0);
    twice.forEach((p, i) => {
      const a = alone.got.get(`r${i % prompts.length}`)!;
      const b = busy.got.get(`r${i}`)!;
      assert.deepEqual(b.tokens, a.tokens);
      assert.equal(b.outputsWithPrompt, p.length > 1 ? 1 : 0);
      assert.equal(b.prompt?.length ?? 0, p.length - 1);
      b.prompt?.forEach((lp, k) => {
        assert.equal(lp.token_id, a.prompt![k]!.token_id);
        assert.ok(Math.abs(lp.logprob - a.prompt![k]!.logprob) < 1e-5);
      });
    });
  });
});
