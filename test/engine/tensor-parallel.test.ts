// Tensor and expert parallelism against one process: on every model fixture, the same greedy tokens
// and the same logprobs (within 2e-5: the row-parallel sums are added in another order) from two
// ranks, each a process on loopback holding half of every layer, as from one process holding all.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LLM, type LLMOutput } from '../../src/engine/llm.js';
import type { EngineOptions } from '../../src/engine/engine-options.js';
import { MODEL_FIXTURES, modelDir, readJson, type ModelGolden } from '../helpers/fixtures.js';
import { skipWithoutGloo } from '../helpers/gloo.js';
import { assertSameOutputs } from '../helpers/parallel-outputs.js';

const MOE = new Set(['mixtral-moe', 'qwen2moe', 'qwen3moe', 'gpt-oss', 'deepseek-v3']);

async function run(options: EngineOptions, prompts: number[][], maxTokens: number): Promise<LLMOutput[]> {
  const llm = new LLM({ ...options, distributedTimeoutMs: 10_000 });
  try {
    return await llm.generate(prompts, { temperature: 0, maxTokens, ignoreEos: true, logprobs: 5 });
  } finally {
    await llm.close();
  }
}

describe('tensor parallelism (2 processes) against one process', { skip: skipWithoutGloo, concurrency: 1 }, () => {
  for (const name of MODEL_FIXTURES) {
    it(`${name}: TP=2${MOE.has(name) ? ' and EP=2' : ''} give TP=1's greedy tokens and logprobs`, { timeout: 120_000 }, async () => {
      const golden = readJson<ModelGolden>(`${modelDir(name)}/golden.json`);
      const prompts = golden.prompts.map((p) => p.input_ids);
      // float32 K/V: an f16 cache would round a last-bit difference of the sums into a visible one.
      const model = { model: modelDir(name), kvCacheDtype: 'f32' as const };
      const one = await run(model, prompts, 8);
      one.forEach((o, i) => assert.deepEqual(o.outputs[0]!.tokenIds, golden.prompts[i]!.greedy_new_tokens.slice(0, 8), `TP=1 against transformers, prompt ${i}`));
      assertSameOutputs(await run({ ...model, tensorParallelSize: 2 }, prompts, 8), one, 'TP=2');
      if (MOE.has(name)) assertSameOutputs(await run({ ...model, tensorParallelSize: 2, enableExpertParallel: true }, prompts, 8), one, 'EP=2');
    });
  }
});

describe('tensor-parallel ranks refuse what cannot be split', { skip: skipWithoutGloo }, () => {
  const llms: LLM[] = [];
  after(() => Promise.all(llms.map((l) => l.close())));
  it('names the head count a size does not divide', async () => {
    const llm = new LLM({ model: modelDir('llama-gqa'), tensorParallelSize: 3 });
    llms.push(llm);
    await assert.rejects(llm.info(), /--tensor-parallel-size 3 must divide the model's 4 attention heads/);
  });
  it('expert parallelism needs more than one rank', async () => {
    const llm = new LLM({ model: modelDir('mixtral-moe'), enableExpertParallel: true });
    llms.push(llm);
    await assert.rejects(llm.info(), /--enable-expert-parallel needs --tensor-parallel-size > 1/);
  });
});

describe('batch invariance at TP=2: alone, batched, chunked, preempted, prefix-cached', { skip: skipWithoutGloo, concurrency: 1 }, () => {
  const golden = readJson<ModelGolden>(`${modelDir('llama-gqa')}/golden.json`);
  // Two prompts share a 40-token prefix, so the prefix cache has something to reuse.
  const prompts = [...golden.prompts.map((p) => p.input_ids), [...golden.prompts[2]!.input_ids, 7, 8, 9]];
  const model = { model: modelDir('llama-gqa'), kvCacheDtype: 'f32' as const, blockSize: 16 };
  // One rank's K/V per token: 2 layers x K and V x 1 KV head x 16 dims x 4 bytes.
  const TP2_BYTES_PER_TOKEN = 2 * 2 * 16 * 4;
  let alone: LLMOutput[] = [];

  it('TP=1, each prompt alone: the reference', { timeout: 60_000 }, async () => {
    alone = [];
    for (const p of prompts) alone.push(...await run(model, [p], 16));
  });
  it('TP=2, each prompt alone', { timeout: 60_000 }, async () => {
    const got: LLMOutput[] = [];
    for (const p of prompts) got.push(...await run({ ...model, tensorParallelSize: 2 }, [p], 16));
    assertSameOutputs(got, alone, 'alone');
  });
  it('TP=2, batched, and with prefills chunked to 16 tokens a step', { timeout: 60_000 }, async () => {
    assertSameOutputs(await run({ ...model, tensorParallelSize: 2 }, prompts, 16), alone, 'batched');
    assertSameOutputs(await run({ ...model, tensorParallelSize: 2, maxNumBatchedTokens: 16 }, prompts, 16), alone, 'chunked');
  });
  it('TP=2, preempted for want of blocks', { timeout: 60_000 }, async () => {
    const got = await run({ ...model, tensorParallelSize: 2, kvCacheMemory: 10 * 16 * TP2_BYTES_PER_TOKEN, enablePrefixCaching: false }, prompts, 16);
    assert.ok(got.some((o) => o.outputs[0]!.numPreemptions > 0), 'some request was preempted');
    assertSameOutputs(got, alone, 'preempted');
  });
  it('TP=2, from the prefix cache', { timeout: 60_000 }, async () => {
    const llm = new LLM({ ...model, tensorParallelSize: 2, distributedTimeoutMs: 10_000 });
    try {
      const params = { temperature: 0, maxTokens: 16, ignoreEos: true, logprobs: 5 };
      await llm.generate([prompts[2]!], params);
      const cached = await llm.generate([prompts[4]!], params);
      assert.ok(cached[0]!.numCachedTokens >= 32, `cached ${cached[0]!.numCachedTokens} tokens`);
      assertSameOutputs(cached, [alone[4]!], 'prefix-cached');
    } finally {
      await llm.close();
    }
  });
});
