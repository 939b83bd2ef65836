// Tensor, pipeline and expert parallelism against one process: on every model fixture, the same
// greedy tokens and the same logprobs (within 1e-5: the row-parallel sums are added in another
// order) from two ranks each holding half of every layer (TP=2), two stages each holding half of the
// layers (PP=2), and four processes doing both (TP=2 x PP=2), all on loopback, as from one process.

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

describe('tensor and pipeline parallelism against one process', { skip: skipWithoutGloo, concurrency: 1 }, () => {
  for (const name of MODEL_FIXTURES) {
    it(`${name}: TP=2, PP=2, TP=2 x PP=2${MOE.has(name) ? ', EP=2' : ''} give TP=1's greedy tokens and logprobs`, { timeout: 180_000 }, async () => {
      const golden = readJson<ModelGolden>(`${modelDir(name)}/golden.json`);
      const prompts = golden.prompts.map((p) => p.input_ids);
      // float32 K/V: an f16 cache would round a last-bit difference of the sums into a visible one.
      const model = { model: modelDir(name), kvCacheDtype: 'f32' as const };
      const one = await run(model, prompts, 8);
      one.forEach((o, i) => assert.deepEqual(o.outputs[0]!.tokenIds, golden.prompts[i]!.greedy_new_tokens.slice(0, 8), `TP=1 against transformers, prompt ${i}`));
      assertSameOutputs(await run({ ...model, tensorParallelSize: 2 }, prompts, 8), one, 'TP=2');
      assertSameOutputs(await run({ ...model, pipelineParallelSize: 2 }, prompts, 8), one, 'PP=2');
      assertSameOutputs(await run({ ...model, tensorParallelSize: 2, pipelineParallelSize: 2 }, prompts, 8), one, 'TP=2 x PP=2');
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
  it('names a pipeline longer than the model', async () => {
    const llm = new LLM({ model: modelDir('llama-gqa'), pipelineParallelSize: 3 });
    llms.push(llm);
    await assert.rejects(llm.info(), /--pipeline-parallel-size 3 is more than the model's 2 layers/);
  });
  it('expert parallelism needs more than one rank', async () => {
    const llm = new LLM({ model: modelDir('mixtral-moe'), enableExpertParallel: true });
    llms.push(llm);
    await assert.rejects(llm.info(), /--enable-expert-parallel needs --tensor-parallel-size > 1/);
  });
});

// Pipeline stages run a step's sequences as micro-batches: the cut must not change any sequence's numbers.
const LAYOUTS = [
  { name: 'TP=2', options: { tensorParallelSize: 2 } },
  { name: 'PP=2', options: { pipelineParallelSize: 2 } },
] as const;

for (const layout of LAYOUTS) describe(`batch invariance at ${layout.name}: alone, batched, chunked, preempted, prefix-cached`, { skip: skipWithoutGloo, concurrency: 1 }, () => {
  const golden = readJson<ModelGolden>(`${modelDir('llama-gqa')}/golden.json`);
  // Two prompts share a 40-token prefix, so the prefix cache has something to reuse.
  const prompts = [...golden.prompts.map((p) => p.input_ids), [...golden.prompts[2]!.input_ids, 7, 8, 9]];
  const model = { model: modelDir('llama-gqa'), kvCacheDtype: 'f32' as const, blockSize: 16 };
  // One rank's K/V per token: 2 layers x K and V x 1 KV head x 16 dims x 4 bytes at TP=2, and
  // 1 layer x K and V x 2 KV heads x 16 dims x 4 bytes at PP=2.
  const RANK_BYTES_PER_TOKEN = 2 * 2 * 16 * 4;
  const parallel = { ...model, ...layout.options };
  let alone: LLMOutput[] = [];

  it('TP=1, each prompt alone: the reference', { timeout: 60_000 }, async () => {
    alone = [];
    for (const p of prompts) alone.push(...await run(model, [p], 16));
  });
  it(`${layout.name}, each prompt alone`, { timeout: 60_000 }, async () => {
    const got: LLMOutput[] = [];
    for (const p of prompts) got.push(...await run(parallel, [p], 16));
    assertSameOutputs(got, alone, 'alone');
  });
  it(`${layout.name}, batched, and with prefills chunked to 16 tokens a step`, { timeout: 60_000 }, async () => {
    assertSameOutputs(await run(parallel, prompts, 16), alone, 'batched');
    assertSameOutputs(await run({ ...parallel, maxNumBatchedTokens: 16 }, prompts, 16), alone, 'chunked');
  });
  it(`${layout.name}, preempted for want of blocks`, { timeout: 60_000 }, async () => {
    const got = await run({ ...parallel, kvCacheMemory: 10 * 16 * RANK_BYTES_PER_TOKEN, enablePrefixCaching: false }, prompts, 16);
    assert.ok(got.some((o) => o.outputs[0]!.numPreemptions > 0), 'some request was preempted');
    assertSameOutputs(got, alone, 'preempted');
  });
  it(`${layout.name}, from the prefix cache`, { timeout: 60_000 }, async () => {
    const llm = new LLM({ ...parallel, distributedTimeoutMs: 10_000 });
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

describe('embeddings over ranks: the last stage sends the pooled hidden rows to rank 0', { skip: skipWithoutGloo, concurrency: 1 }, () => {
  it('PP=2 and TP=2 x PP=2 give one process\'s embeddings', { timeout: 120_000 }, async () => {
    const dir = modelDir('qwen3-qknorm');
    const prompts = readJson<ModelGolden>(`${dir}/golden.json`).prompts.map((p) => p.input_ids);
    const embed = async (o: Partial<EngineOptions>) => {
      const llm = new LLM({ model: dir, kvCacheDtype: 'f32', distributedTimeoutMs: 10_000, ...o });
      try {
        return await llm.embed(prompts);
      } finally {
        await llm.close();
      }
    };
    const one = await embed({});
    for (const layout of [{ pipelineParallelSize: 2 }, { tensorParallelSize: 2, pipelineParallelSize: 2 }]) {
      const got = await embed(layout);
      got.forEach((e, i) => e.embedding.forEach((v, k) => assert.ok(Math.abs(v - one[i]!.embedding[k]!) <= 1e-5, `${JSON.stringify(layout)} prompt ${i} [${k}]: ${v} vs ${one[i]!.embedding[k]}`)));
    }
  });
});
