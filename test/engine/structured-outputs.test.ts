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

  it('with n-gram speculative decoding on, constrained requests decode exactly as without it', async () => {
    const tok = loaded.tokenizer!;
    const reqs = SPECS.map((s, i) => ({ id: `s${i}`, prompt: tok.encode('Once upon a time, there was a little girl. Once upon a time'), spec: s.spec }));
    const plain = run(await engine({ kvCacheMemory: 64 << 20 }), reqs);
    const spec = run(await engine({ kvCacheMemory: 64 << 20, speculativeMethod: 'ngram', numSpeculativeTokens: 3 }), reqs);
    for (const r of reqs) assert.deepEqual(spec.get(r.id)!.tokens, plain.get(r.id)!.tokens, r.id);
  });
});
