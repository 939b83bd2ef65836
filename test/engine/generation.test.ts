// One request through the engine's step loop on stories260K with its real tokenizer: seeds, stop
// strings, stop tokens, logprobs, min_tokens, the no-KV-cache mode and streamed text adding up to the
// final text.

import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { EngineCore } from '../../src/engine/engine-core.js';
import { resolveEngineConfig } from '../../src/engine/engine-config.js';
import { makeSamplingParams, type SamplingParams } from '../../src/engine/sampling/sampling-params.js';
import type { CausalLM } from '../../src/model/architectures/decoder.js';
import type { Tokenizer } from '../../src/model/tokenizer/tokenizer.js';
import { UsageError } from '../../src/util/errors.js';
import { generateOne } from '../helpers/engine.js';
import { loadStories } from '../helpers/models.js';
import { modelDir, readJson } from '../helpers/fixtures.js';

/** A fresh engine per call, as `tsllm generate` runs one. */
class OneRequest {
  constructor(
    readonly model: CausalLM,
    readonly tokenizer: Tokenizer | null,
    private readonly opts: { kvCache?: boolean } = {},
  ) {}

  complete(promptIds: number[], params: SamplingParams) {
    const core = new EngineCore(this.model, this.tokenizer, resolveEngineConfig(this.model.config, { kvCacheMemory: 8 << 20, ...this.opts }));
    return generateOne(core, promptIds, params);
  }
}

describe('one request through the engine on stories260K', () => {
  let gen: OneRequest;
  let prompt: number[];
  const golden = readJson(path.join(modelDir('stories260K'), 'golden.json'));

  before(async () => {
    const s = await loadStories();
    gen = new OneRequest(s.model, s.tokenizer);
    prompt = s.tokenizer!.encode('Once upon a time');
  });

  it('greedy output equals run.c and its text is the full decode of its tokens', () => {
    const r = gen.complete(prompt, makeSamplingParams({ temperature: 0, maxTokens: 64, ignoreEos: true }));
    assert.deepEqual(r.tokenIds, golden.prompted[0].runc_greedy_new_tokens);
    assert.equal(r.finishReason, 'length');
    assert.equal(r.text, gen.tokenizer!.decode([...prompt, ...r.tokenIds], { skipSpecialTokens: true }).slice('Once upon a time'.length));
  });

  it('the same seed gives the same tokens, another seed other tokens', () => {
    const p = (seed: number) => makeSamplingParams({ temperature: 1, topP: 0.95, topK: 40, seed, maxTokens: 48, ignoreEos: true });
    const a = gen.complete(prompt, p(7)).tokenIds;
    assert.deepEqual(gen.complete(prompt, p(7)).tokenIds, a);
    assert.notDeepEqual(gen.complete(prompt, p(8)).tokenIds, a);
  });

  it('without the KV cache the tokens are the same', () => {
    const params = makeSamplingParams({ temperature: 0, maxTokens: 24 });
    const noCache = new OneRequest(gen.model, gen.tokenizer, { kvCache: false });
    assert.deepEqual(noCache.complete(prompt, params).tokenIds, gen.complete(prompt, params).tokenIds);
  });

  it('catches a stop string split across tokens and never emits it', () => {
    const full = gen.complete(prompt, makeSamplingParams({ temperature: 0, maxTokens: 64 }));
    // Pick a stop string that spans two tokens of the greedy output: the end of one token's text and
    // the start of the next.
    const pieces = full.tokenIds.map((id) => gen.tokenizer!.decode([id], {}));
    let offset = 0;
    let stop = '';
    for (let i = 5; i < pieces.length - 1; i++) {
      const a = gen.tokenizer!.decode(full.tokenIds.slice(0, i));
      const b = gen.tokenizer!.decode(full.tokenIds.slice(0, i + 1));
      if (b.length - a.length >= 2 && a.length >= 2) {
        stop = b.slice(a.length - 2, a.length + 2);
        offset = full.text.indexOf(stop);
        break;
      }
    }
    assert.ok(stop.length === 4 && offset > 0, 'found a stop string straddling a token boundary');
    const params = makeSamplingParams({ temperature: 0, maxTokens: 64, stop: ['never-there', stop] });
    const result = gen.complete(prompt, params);
    const chunks = result.chunks;
    assert.equal(result.finishReason, 'stop');
    assert.equal(result.stopReason, stop);
    assert.equal(result.text, full.text.slice(0, offset));
    assert.equal(chunks.join(''), result.text);
    assert.ok(!chunks.join('').includes(stop));
  });

  it('stops on a stop token id, honours min_tokens, and reports logprobs', () => {
    const greedy = gen.complete(prompt, makeSamplingParams({ temperature: 0, maxTokens: 20 })).tokenIds;
    const stopId = greedy[3]!;
    const r = gen.complete(prompt, makeSamplingParams({ temperature: 0, maxTokens: 20, stopTokenIds: [stopId], logprobs: 3 }));
    assert.deepEqual(r.tokenIds, greedy.slice(0, greedy.indexOf(stopId) + 1));
    assert.equal(r.stopReason, stopId);
    assert.equal(r.logprobs!.length, r.tokenIds.length);
    for (const [i, lp] of r.logprobs!.entries()) {
      assert.equal(lp.token_id, r.tokenIds[i]);
      assert.equal(lp.top.length, 3);
      assert.equal(lp.top[0]![0], lp.token_id, 'greedy picks the top logprob');
      assert.ok(lp.logprob <= 0 && lp.top[0]![1] >= lp.top[1]![1]);
    }
    const later = gen.complete(prompt, makeSamplingParams({ temperature: 0, maxTokens: 20, stopTokenIds: [stopId], minTokens: 10 }));
    assert.ok(later.tokenIds.length > 10 || later.finishReason === 'length');
  });

  it('repetition penalty changes what greedy decoding picks', () => {
    const plain = gen.complete(prompt, makeSamplingParams({ temperature: 0, maxTokens: 32 })).tokenIds;
    const penalized = gen.complete(prompt, makeSamplingParams({ temperature: 0, maxTokens: 32, repetitionPenalty: 1.5 })).tokenIds;
    assert.notDeepEqual(penalized, plain);
  });

  it('refuses prompts it cannot serve, with a clear error', () => {
    const params = makeSamplingParams({ maxTokens: 4 });
    assert.throws(() => gen.complete([], params), UsageError);
    assert.throws(() => gen.complete([1, 9999], params), /outside the vocabulary/);
    assert.throws(() => gen.complete(new Array(600).fill(1), params), /context length is 512/);
    assert.throws(() => makeSamplingParams({ temperature: -1 }), /temperature/);
    assert.throws(() => makeSamplingParams({ topP: 0 }), /topP/);
  });
});
