// Constrained decoding inside the engine core: under a KV cache so small that requests are preempted
// and recomputed, with random aborts, every constrained request still matches its grammar, produces
// exactly what it produces alone, and gives its matcher back; with n-gram speculative decoding on, the
// constrained requests (which take no drafts) produce the same tokens as without it.

import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { EngineCore } from '../../src/engine/engine-core.js';
import { resolveEngineConfig, type EngineConfigInput } from '../../src/engine/engine-config.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import type { StructuredOutputs } from '../../src/engine/structured/structured-outputs.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadModel, type LoadedModel } from '../../src/model/load-model.js';
import { Rng } from '../../src/util/rng.js';
import { testBackends } from '../helpers/backends.js';
import { FIXTURES, modelDir } from '../helpers/fixtures.js';

const SPECS: { spec: StructuredOutputs; check: RegExp }[] = [
  { spec: { type: 'regex', pattern: ', there (was|lived) an? [a-z]+ [a-z]+ named [A-Z][a-z]+\\.' }, check: /^, there (was|lived) an? [a-z]+ [a-z]+ named [A-Z][a-z]+\.$/ },
  // Decoded alone, an output's first SentencePiece space is dropped: hence the optional space.
  { spec: { type: 'choice', choices: [' Lily', ' Tom', ' Sue'] }, check: /^ ?(Lily|Tom|Sue)$/ },
  { spec: { type: 'json', schema: { type: 'object', properties: { n: { type: 'integer', minimum: 0, maximum: 99 }, w: { enum: ['cat', 'dog'] } }, required: ['n', 'w'] } }, check: /^\{"n":\d{1,2},"w":"(cat|dog)"\}$/ },
];

describe('constrained requests in the engine core', () => {
  let loaded: LoadedModel;
  before(async () => {
    loaded = await loadModel(modelDir('stories260K'), { tokenizer: path.join(FIXTURES, 'tokenizers', 'tok512') });
  });

  async function engine(cfg: EngineConfigInput): Promise<EngineCore> {
    const model = new CausalLM(loaded.config, loaded.weights, testBackends().at(-1)!.make());
    const core = new EngineCore(model, loaded.tokenizer, resolveEngineConfig(loaded.config, { kvCacheDtype: 'f32', ...cfg }));
    for (const { spec } of SPECS) await core.constrained.compile(spec);
    return core;
  }

  /** Runs the requests to the end; the output tokens of each that finished (not aborted). */
  function run(core: EngineCore, reqs: { id: string; prompt: number[]; spec: StructuredOutputs }[], abortRng?: Rng): Map<string, { tokens: number[]; reason: string }> {
    for (const r of reqs) core.addRequest({ id: r.id, promptIds: r.prompt, params: makeSamplingParams({ temperature: 0, maxTokens: 40, structuredOutputs: r.spec }) });
    const out = new Map<string, { tokens: number[]; reason: string }>();
    const tokens = new Map<string, number[]>();
    while (core.hasWork) {
      if (abortRng && abortRng.next() < 0.05) core.abort(reqs[Math.floor(abortRng.next() * reqs.length)]!.id);
      for (const o of core.step()) {
        const t = [...(tokens.get(o.requestId) ?? []), ...o.tokenIds];
        tokens.set(o.requestId, t);
        if (o.finishReason) out.set(o.requestId, { tokens: t, reason: o.finishReason });
      }
    }
    return out;
  }

  it('preempted, recomputed and aborted constrained requests: valid, as alone, matchers returned', async () => {
    const rng = new Rng(5);
    const tok = loaded.tokenizer!;
    const reqs = Array.from({ length: 30 }, (_, i) => {
      const words = ['Once upon a time', 'One day', 'The cat', 'Lily and Tom'][i % 4]!;
      const filler = Array.from({ length: 1 + Math.floor(rng.next() * 40) }, () => 3 + Math.floor(rng.next() * 500));
      return { id: `r${i}`, prompt: [...filler, ...tok.encode(words, { addSpecialTokens: false })], spec: SPECS[i % SPECS.length]!.spec };
    });
    const c = loaded.config;
    const blockBytes = 4 * 2 * c.numLayers * c.numKvHeads * c.headDim * 4;
    const tight = await engine({ blockSize: 4, kvCacheMemory: 40 * blockBytes, maxNumBatchedTokens: 48, maxNumSeqs: 12 });
    const together = run(tight, reqs, new Rng(9));
    assert.ok(tight.scheduler.numPreemptions > 5, `preemptions: ${tight.scheduler.numPreemptions}`);
    assert.equal(tight.constrained.numOpen, 0, 'every matcher released');
    const roomy = await engine({ kvCacheMemory: 64 << 20 });
    let checked = 0;
    for (const r of reqs) {
      const got = together.get(r.id)!;
      if (got.reason === 'abort') continue;
      const alone = run(roomy, [r]).get(r.id)!;
      assert.deepEqual(got.tokens, alone.tokens, r.id);
      const text = tok.decode(got.tokens.filter((t) => !tok.eosTokenIds.includes(t)), { skipSpecialTokens: true });
      assert.match(text, SPECS.find((s) => s.spec === r.spec)!.check, `${r.id}: ${text}`);
      checked++;
    }
    assert.ok(checked >= 15, `${checked} requests checked`);
  });

  // Drafts of constrained requests are verified under the grammar's mask at each draft position (the
  // matcher advanced through the drafts and rolled back), so greedy output is exactly as without them.
  for (const method of ['ngram', 'layer-skip'] as const) {
    it(`with ${method} speculative decoding, constrained requests take drafts and decode exactly as without it`, async () => {
      const tok = loaded.tokenizer!;
      const reqs = SPECS.map((s, i) => ({ id: `s${i}`, prompt: tok.encode('Once upon a time, there was a little girl. Once upon a time'), spec: s.spec }));
      const plain = run(await engine({ kvCacheMemory: 64 << 20 }), reqs);
      const core = await engine({ kvCacheMemory: 64 << 20, speculativeMethod: method, numSpeculativeTokens: 3, ...(method === 'layer-skip' ? { draftLayers: 4 } : {}) });
      const spec = run(core, reqs);
      for (const r of reqs) assert.deepEqual(spec.get(r.id)!.tokens, plain.get(r.id)!.tokens, r.id);
      const st = core.stats().spec!;
      assert.ok(st.numAcceptedTokens > 0 && st.numAcceptedTokens < st.numDraftTokens, `accepted ${st.numAcceptedTokens} of ${st.numDraftTokens}`);
      assert.equal(core.constrained.numOpen, 0);
    });
  }

  it('a grammar against the model\'s taste: n-gram drafts are verified under the grammar, never against the free model', async () => {
    // The prompt repeats digits, so n-gram drafts are digits; stories260K would never pick a digit
    // freely, so a draft checked without the grammar's mask would be replaced by a word, which the
    // grammar refuses.
    const tok = loaded.tokenizer!;
    const spec: StructuredOutputs = { type: 'regex', pattern: '[0-9]{16}' };
    const prompt = tok.encode('1 2 3 4 1 2 3 4 1 2 3 4 1 2 3 4');
    const req = [{ id: 'digits', prompt, spec }];
    const plainCore = await engine({ kvCacheMemory: 64 << 20 });
    await plainCore.constrained.compile(spec);
    const plain = run(plainCore, req).get('digits')!;
    const core = await engine({ kvCacheMemory: 64 << 20, speculativeMethod: 'ngram', numSpeculativeTokens: 4 });
    await core.constrained.compile(spec);
    const got = run(core, req).get('digits')!;
    assert.deepEqual(got.tokens, plain.tokens);
    assert.match(tok.decode(got.tokens.filter((t) => !tok.eosTokenIds.includes(t)), { skipSpecialTokens: true }), /^[0-9]{16}$/);
    assert.ok(core.stats().spec!.numAcceptedTokens > 0);
  });

  it('ignore_eos: once the grammar is complete only EOS follows, to max_tokens', async () => {
    const tok = loaded.tokenizer!;
    const core = await engine({ kvCacheMemory: 64 << 20 });
    const spec = SPECS[1]!.spec;
    core.addRequest({ id: 'e', promptIds: tok.encode('Once upon a time'), params: makeSamplingParams({ temperature: 0, maxTokens: 12, ignoreEos: true, structuredOutputs: spec }) });
    const tokens: number[] = [];
    let reason = '';
    while (core.hasWork) {
      for (const o of core.step()) {
        tokens.push(...o.tokenIds);
        if (o.finishReason) reason = o.finishReason;
      }
    }
    assert.equal(reason, 'length');
    assert.equal(tokens.length, 12);
    const firstEos = tokens.findIndex((t) => tok.eosTokenIds.includes(t));
    assert.ok(firstEos > 0);
    assert.match(tok.decode(tokens.slice(0, firstEos), { skipSpecialTokens: true }), SPECS[1]!.check);
    assert.ok(tokens.slice(firstEos).every((t) => tok.eosTokenIds.includes(t)));
    assert.equal(core.constrained.numOpen, 0);
  });

  it('sampled with drafts, constrained output still matches its grammar', async () => {
    const tok = loaded.tokenizer!;
    const core = await engine({ kvCacheMemory: 64 << 20, speculativeMethod: 'layer-skip', numSpeculativeTokens: 4 });
    for (let i = 0; i < 12; i++) {
      const s = SPECS[i % SPECS.length]!;
      core.addRequest({ id: `t${i}`, promptIds: tok.encode('Once upon a time'), params: makeSamplingParams({ temperature: 1, seed: i, maxTokens: 60, structuredOutputs: s.spec }) });
    }
    const tokens = new Map<string, number[]>();
    const reasons = new Map<string, string>();
    while (core.hasWork) {
      for (const o of core.step()) {
        tokens.set(o.requestId, [...(tokens.get(o.requestId) ?? []), ...o.tokenIds]);
        if (o.finishReason) reasons.set(o.requestId, o.finishReason);
      }
    }
    assert.ok(core.stats().spec!.numAcceptedTokens > 0);
    for (let i = 0; i < 12; i++) {
      if (reasons.get(`t${i}`) !== 'stop') continue;
      const text = tok.decode(tokens.get(`t${i}`)!.filter((t) => !tok.eosTokenIds.includes(t)), { skipSpecialTokens: true });
      assert.match(text, SPECS[i % SPECS.length]!.check, `t${i}: ${text}`);
    }
    assert.ok([...reasons.values()].filter((r) => r === 'stop').length >= 6);
  });
});
