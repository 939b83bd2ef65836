// The engine in its worker thread, through the offline LLM API and the async engine: outputs in input
// order and equal to one-at-a-time generation, streamed text adding up, n seeded samples, aborts that
// free their blocks, and clear errors at admission and load.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AsyncEngine } from '../../src/engine/async-engine.js';
import { LLM } from '../../src/engine/llm.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import { TextGenerator } from '../helpers/text-generator.js';
import { ModelLoadError, UsageError } from '../../src/util/errors.js';
import { FIXTURES, modelDir } from '../helpers/fixtures.js';
import { loadStories } from '../helpers/models.js';

const STORIES = { model: modelDir('stories260K'), tokenizer: path.join(FIXTURES, 'tokenizers', 'tok512'), backend: 'reference' as const };
const PROMPTS = ['Once upon a time', 'The cat', 'Lily wanted to play with her ball', 'One day, a little boy named Tim', 'The sun'];

describe('LLM.generate on stories260K', () => {
  let gen: TextGenerator;
  before(async () => {
    const s = await loadStories();
    gen = new TextGenerator(s.model, s.tokenizer);
  });

  it('returns outputs in input order, equal to generating each prompt alone', async () => {
    const llm = new LLM({ ...STORIES, kvCacheMemory: 4 << 20 });
    try {
      const maxTokens = [40, 8, 25, 3, 60];
      const outs = await llm.generate(PROMPTS, maxTokens.map((m) => ({ temperature: 0, maxTokens: m })));
      assert.equal(outs.length, PROMPTS.length);
      outs.forEach((o, i) => {
        const ids = gen.tokenizer!.encode(PROMPTS[i]!);
        const alone = gen.complete(ids, makeSamplingParams({ temperature: 0, maxTokens: maxTokens[i]! }));
        assert.equal(o.prompt, PROMPTS[i]);
        assert.deepEqual(o.promptTokenIds, ids);
        assert.deepEqual(o.outputs[0]!.tokenIds, alone.tokenIds);
        assert.equal(o.outputs[0]!.text, alone.text);
        assert.equal(o.outputs[0]!.finishReason, alone.finishReason);
        const t = o.outputs[0]!.timeline;
        assert.ok(t.arrival <= t.firstScheduled! && t.firstScheduled! <= t.firstToken! && t.firstToken! <= t.finished!);
        assert.equal(t.tokens.length, o.outputs[0]!.tokenIds.length);
      });
    } finally {
      await llm.close();
    }
  });

  it('n seeded samples match one-at-a-time sampling with seed + index', async () => {
    const llm = new LLM({ ...STORIES });
    try {
      const params = { n: 3, temperature: 1, topK: 40, seed: 11, maxTokens: 30, ignoreEos: true };
      const [out] = await llm.generate('Once upon a time', params);
      assert.equal(out!.outputs.length, 3);
      const ids = gen.tokenizer!.encode('Once upon a time');
      out!.outputs.forEach((o, i) => assert.deepEqual(o.tokenIds, gen.complete(ids, makeSamplingParams(params), i).tokenIds));
      assert.notDeepEqual(out!.outputs[0]!.tokenIds, out!.outputs[1]!.tokenIds);
    } finally {
      await llm.close();
    }
  });

  it('a load failure is reported by generate as the loader\'s error', async () => {
    const llm = new LLM({ model: '/nonexistent/model.gguf' });
    await assert.rejects(llm.generate('hi'), ModelLoadError);
    await llm.close();
  });
});

describe('AsyncEngine on stories260K', () => {
  let engine: AsyncEngine;
  let gen: TextGenerator;
  before(async () => {
    engine = await AsyncEngine.start({ ...STORIES, maxModelLen: 64, kvCacheMemory: 1 << 20 });
    const s = await loadStories();
    gen = new TextGenerator(s.model, s.tokenizer);
  });
  after(() => engine.close());

  it('streams text that adds up to the whole completion', async () => {
    let text = '';
    let tokens = 0;
    let chunks = 0;
    let last;
    for await (const o of engine.generate('Once upon a time', makeSamplingParams({ temperature: 0, maxTokens: 30 }))) {
      text += o.text;
      tokens += o.tokenIds.length;
      chunks++;
      last = o;
    }
    assert.ok(chunks > 1);
    assert.equal(last!.finishReason, 'length');
    assert.equal(tokens, 30);
    assert.ok(text.length > 20, text);
    assert.equal(text, gen.complete(gen.tokenizer!.encode('Once upon a time'), makeSamplingParams({ temperature: 0, maxTokens: 30 })).text);
  });

  it('abort ends a request and frees its blocks', async () => {
    const stream = engine.generate('Once upon a time', makeSamplingParams({ temperature: 0, maxTokens: 60, ignoreEos: true }), { requestId: 'long' });
    let last;
    for await (const o of stream) {
      if (o.tokenIds.length > 0 && !o.finishReason) engine.abort('long');
      last = o;
    }
    assert.equal(last!.finishReason, 'abort');
    assert.ok(last!.timeline!.tokens.length < 60);
    assert.equal(engine.stats!.kvCacheUsage, 0);
    assert.equal(engine.stats!.numRunning + engine.stats!.numWaiting, 0);
  });

  it('leaving the iteration early aborts the request', async () => {
    for await (const o of engine.generate('The cat', makeSamplingParams({ temperature: 0, maxTokens: 60, ignoreEos: true }), { requestId: 'left' })) {
      if (o.tokenIds.length > 0) break;
    }
    // The next request runs on an engine that has let go of the first.
    const outs = [];
    for await (const o of engine.generate('The sun', makeSamplingParams({ temperature: 0, maxTokens: 2 }))) outs.push(o);
    assert.equal(outs.at(-1)!.finishReason, 'length');
    assert.equal(engine.stats!.numRunning + engine.stats!.numWaiting, 0);
  });

  it('refuses at admission a prompt longer than the context or than the whole cache', async () => {
    const consume = async (prompt: number[]) => {
      for await (const _ of engine.generate(prompt, makeSamplingParams({ maxTokens: 4 }))) {
        // drain
      }
    };
    await assert.rejects(consume(new Array(64).fill(5)), (e: Error) => e instanceof UsageError && /maximum context length is 64/.test(e.message));
    const m = engine.info.model;
    // The default KV dtype is f16: 2 bytes a value.
    const bytesPerBlock = 16 * 2 * m.numLayers * m.numKvHeads * m.headDim * 2;
    const small = await AsyncEngine.start({ ...STORIES, kvCacheMemory: 5 * bytesPerBlock + 100 });
    try {
      assert.equal(small.info.config.numBlocks, 5);
      assert.equal(small.info.maxSequenceTokens, 80);
      await assert.rejects(
        (async () => { for await (const _ of small.generate(new Array(100).fill(5), makeSamplingParams({ maxTokens: 4 }))) { /* drain */ } })(),
        (e: Error) => e instanceof UsageError && /whole KV cache holds 80 tokens/.test(e.message),
      );
      // A prompt that fits still runs, and stops at the cache's capacity.
      const outs = [];
      for await (const o of small.generate(new Array(70).fill(5), makeSamplingParams({ maxTokens: 40, ignoreEos: true }))) outs.push(o);
      assert.equal(outs.at(-1)!.finishReason, 'length');
      assert.equal(outs.reduce((n, o) => n + o.tokenIds.length, 0), 10);
    } finally {
      await small.close();
    }
  });
});
