// Speculative decoding must not change what the model says. Greedy: identical tokens with every
// proposer, on every fixture and stories260K, one request at a time and many at once (chunked
// prefill, preemption, prefix-cache hits). Sampling: rejection sampling reproduces the target's
// distribution, checked empirically over many seeds within a stated tolerance.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EngineCore } from '../../src/engine/engine-core.js';
import { resolveEngineConfig, type EngineConfigInput } from '../../src/engine/engine-config.js';
import { Rng } from '../../src/util/rng.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import { proposeNgram } from '../../src/engine/spec-decode/ngram-proposer.js';
import { DraftPacer, newDraftPace } from '../../src/engine/spec-decode/draft-pacing.js';
import { verifyDrafts } from '../../src/engine/spec-decode/verify-drafts.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadHfWeights, readHfConfig } from '../../src/model/loaders/hf-folder.js';
import { testBackends } from '../helpers/backends.js';
import { tsllm } from '../helpers/cli.js';
import { runToCompletion } from '../helpers/engine.js';
import { MODEL_FIXTURES, modelDir, readJson, type ModelGolden } from '../helpers/fixtures.js';

const backend = testBackends().at(1) ?? testBackends()[0]!;

describe('draft pacing', () => {
  // Drafts allowed over `steps` steps when every run accepts `accept(n)` of its n drafts.
  const allowances = (pacer: DraftPacer, steps: number, accept: (n: number) => number) => {
    const pace = newDraftPace();
    const out: number[] = [];
    for (let i = 0; i < steps; i++) {
      const n = pacer.allowance(pace, 4);
      out.push(n);
      if (n > 0) pacer.record(pace, n, accept(n));
    }
    return out;
  };

  it('follows acceptance, backs off after misses, and resets at the first acceptance', () => {
    const pacer = new DraftPacer();
    assert.deepEqual(allowances(pacer, 6, (n) => n), [4, 4, 4, 4, 4, 4], 'all accepted: all K');
    assert.deepEqual(allowances(new DraftPacer(), 3, () => 1), [4, 3, 3], 'one accepted: one plus two');
    // Nothing accepted: a short run, then pauses of 1, 2, 4, 8 steps between runs.
    assert.deepEqual(allowances(new DraftPacer(), 22, () => 0), [4, 2, 0, 2, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0]);
    const pace = newDraftPace();
    const p = new DraftPacer();
    assert.equal(p.allowance(pace, 4), 4);
    p.record(pace, 4, 0);
    p.record(pace, 2, 0);
    p.record(pace, 2, 1);
    assert.equal(p.allowance(pace, 4), 3, 'an acceptance ends the pause');
  });

  it('starts a new request paused when the engine\'s recent runs accepted under a fifth of their drafts', () => {
    const pacer = new DraftPacer();
    allowances(pacer, 40, () => 0);
    assert.equal(allowances(pacer, 1, () => 0)[0], 4, 'a few misses are not enough');
    for (let i = 0; i < 3; i++) allowances(pacer, 40, () => 0);
    const next = allowances(pacer, 40, () => 0);
    assert.ok(next.slice(0, 16).every((n) => n === 0), `paused from the start: ${next.join(' ')}`);
    assert.ok(next.filter((n) => n > 0).length <= 3 && next.every((n) => n <= 2));
    for (let i = 0; i < 10; i++) pacer.record(newDraftPace(), 4, 0);
    pacer.record(newDraftPace(), 4, 4);
    assert.equal(allowances(pacer, 1, (n) => n)[0], 0, 'one good run is not enough');
    pacer.record(newDraftPace(), 4, 4);
    pacer.record(newDraftPace(), 4, 4);
    pacer.record(newDraftPace(), 4, 4);
    assert.deepEqual(allowances(pacer, 2, (n) => n), [4, 4], 'recent runs accepting again restore full drafts for new requests');
  });

  it('pauses a running request for the longest time at its next miss once the engine\'s runs mostly fail', () => {
    const pacer = new DraftPacer();
    const pace = newDraftPace();
    assert.equal(pacer.allowance(pace, 4), 4);
    for (let i = 0; i < 20; i++) pacer.record(newDraftPace(), 4, 0);
    pacer.record(pace, 4, 0);
    const after = Array.from({ length: 33 }, () => pacer.allowance(pace, 4));
    assert.deepEqual(after.slice(0, 32), new Array(32).fill(0), 'a first miss, yet 32 steps without drafts');
    assert.equal(after[32], 2);
  });
});

describe('n-gram proposals', () => {
  it('continue the latest earlier occurrence of the longest matching suffix', () => {
    assert.deepEqual(proposeNgram([1, 2, 3, 9, 9, 1, 2, 3, 4, 5, 1, 2, 3], 3, { minMatch: 1, maxMatch: 3 }), [4, 5, 1]);
    assert.deepEqual(proposeNgram([7, 8, 7, 8, 7], 4, { minMatch: 1, maxMatch: 2 }), [8, 7]);
    assert.deepEqual(proposeNgram([1, 2, 3, 4], 3, { minMatch: 1, maxMatch: 3 }), []);
    assert.deepEqual(proposeNgram([5, 6, 1, 5, 7, 1], 2, { minMatch: 2, maxMatch: 2 }), [], 'a 1-token match is below the minimum');
  });

  it('among matches of the maximum length, continue the one that agrees furthest back', () => {
    // Suffix [2, 3] (max 2) occurs after 1 (start 1) and after 8 (start 6, the latest); the sequence has
    // 1 before its suffix, so the older occurrence is the longer real match.
    assert.deepEqual(proposeNgram([0, 2, 3, 4, 9, 8, 2, 3, 5, 7, 1, 2, 3], 2, { minMatch: 1, maxMatch: 2 }), [5, 7], 'no agreement beyond the n-gram: the latest');
    assert.deepEqual(proposeNgram([1, 2, 3, 4, 9, 8, 2, 3, 5, 7, 1, 2, 3], 2, { minMatch: 1, maxMatch: 2 }), [4, 9], 'one more token agrees at the older one');
    // Below the maximum length there is nothing further back to compare: the latest match.
    assert.deepEqual(proposeNgram([1, 2, 3, 4, 9, 8, 2, 3, 5, 7, 1, 2, 3], 2, { minMatch: 1, maxMatch: 3 }), [4, 9], 'the 3-gram [1, 2, 3] matches only the older one');
  });

  it('propose at most twice the match length', () => {
    const text = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    assert.deepEqual(proposeNgram([...text, 0, 1], 8, { minMatch: 1, maxMatch: 4 }), [2, 3], 'a 1-token match: 2 drafts');
    assert.deepEqual(proposeNgram([...text, 0, 1, 2, 3], 8, { minMatch: 1, maxMatch: 4 }), [4, 5, 6, 7, 8, 9], 'a 3-token match: 6 drafts');
    assert.deepEqual(proposeNgram([...text, 0, 1, 2, 3, 4], 8, { minMatch: 1, maxMatch: 4 }), [5, 6, 7, 8, 9, 10, 11, 12], 'a 4-token match: k');
  });
});

const PROMPTS_EXTRA = 6;

for (const name of [...MODEL_FIXTURES, 'stories260K']) {
  describe(`greedy speculative decoding equals plain decoding on ${name} (${backend.name})`, () => {
    const dir = modelDir(name);
    const config = readHfConfig(dir);
    const model = new CausalLM(config, loadHfWeights(dir, config), backend.make());
    const golden = name === 'stories260K' ? null : readJson<ModelGolden>(path.join(dir, 'golden.json'));
    // The golden prompts, and prompts that repeat themselves so n-gram lookup finds something.
    const base = golden ? golden.prompts.map((p) => p.input_ids) : [[1], [1, 400, 301, 280], [1, 72, 72, 72]];
    const work = [...base.map((prompt) => ({ prompt, maxTokens: 32 })), ...Array.from({ length: PROMPTS_EXTRA }, (_, i) => {
      const seed = base[i % base.length]!.slice(0, 12);
      return { prompt: [...seed, ...seed.slice(0, 3 + i), ...seed], maxTokens: 16 + ((i * 7) % 17) };
    })].map((w, i) => ({ id: `r${i}`, ...w }));
    const longest = Math.max(...work.map((w) => w.prompt.length + w.maxTokens));
    const params = (maxTokens: number) => makeSamplingParams({ temperature: 0, maxTokens, ignoreEos: true });
    const run = (cfg: EngineConfigInput, draft?: CausalLM) => {
      const core = new EngineCore(model, null, resolveEngineConfig(config, { kvCacheMemory: 16 << 20, blockSize: 4, kvCacheDtype: 'f32', ...cfg }, draft?.config), draft);
      for (const w of work) core.addRequest({ id: w.id, promptIds: w.prompt, params: params(w.maxTokens) });
      const out = runToCompletion(core);
      assert.deepEqual(core.kv.audit(), []);
      assert.equal(core.kv.pool.numFree, core.kv.numBlocks, 'every block is free at the end');
      return { core, tokens: new Map(work.map((w) => [w.id, out.get(w.id)!.tokens])) };
    };
    const plain = run({}).tokens;
    if (golden) it('plain decoding gives Hugging Face\'s greedy tokens', () => golden.prompts.forEach((p, i) => assert.deepEqual(plain.get(`r${i}`), p.greedy_new_tokens)));

    const methods: [string, EngineConfigInput, CausalLM?][] = [
      ['ngram, k 4', { speculativeMethod: 'ngram', numSpeculativeTokens: 4 }],
      [`layer-skip, ${Math.max(1, config.numLayers - 1)} of ${config.numLayers} layers, k 3`, { speculativeMethod: 'layer-skip', draftLayers: Math.max(1, config.numLayers - 1), numSpeculativeTokens: 3 }],
      ['the target as its own draft model, k 5', { speculativeModel: 'self', numSpeculativeTokens: 5 }, model],
    ];
    for (const [label, cfg, draft] of methods) {
      it(`${label}: alone, and all at once under a 9-token budget with a tight cache`, () => {
        const alone = run({ ...cfg, maxNumSeqs: 1 }, draft);
        for (const w of work) assert.deepEqual(alone.tokens.get(w.id), plain.get(w.id), `${w.id} alone`);
        const spec = alone.core.stats().spec!;
        assert.ok(spec.numDrafts > 0, `drafts were proposed: ${JSON.stringify(spec)}`);
        // A random-weight model's first layers agree with the whole model only by chance, and drafting
        // backs off once they do not; the trained stories260K's do agree.
        if (cfg.speculativeMethod !== 'layer-skip' || name === 'stories260K') assert.ok(spec.numAcceptedTokens > 0, `drafts were accepted: ${JSON.stringify(spec)}`);
        if (draft) assert.equal(spec.numAcceptedTokens, spec.numDraftTokens, 'the target accepts all of its own drafts');

        // Room for the longest request and its drafts, not for all of them: preemptions follow.
        // (MLA keeps one latent pool instead of K and V.)
        const blockBytes = (config.mla ? 1 : 2) * config.numLayers * config.numKvHeads * config.headDim * 4 * 4 * (draft ? 2 : 1);
        const batched = run({ ...cfg, maxNumBatchedTokens: 9, kvCacheMemory: (Math.ceil(longest / 4) + 3) * blockBytes }, draft);
        for (const w of work) assert.deepEqual(batched.tokens.get(w.id), plain.get(w.id), `${w.id} batched`);
        assert.ok(batched.core.scheduler.numPreemptions > 0, 'the tight cache preempted');
      });
    }
  });
}

describe('rejection sampling keeps the target\'s distribution', () => {
  // Two positions of a 6-token vocabulary. Row 0 is the target after the context, row 1 after draft 0.
  const logits = Float32Array.from([2.0, 1.0, 0.5, 0.0, -1.0, 1.5, /* row 1 */ 0.3, 0.2, 2.2, -0.5, 0.0, 1.0, /* row 2 */ 0, 0, 0, 0, 0, 0]);
  const softmax = (row: number, t: number) => {
    const x = Array.from(logits.subarray(row * 6, row * 6 + 6), (v) => Math.exp(v / t));
    const s = x.reduce((a, b) => a + b, 0);
    return x.map((v) => v / s);
  };
  const N = 40_000;
  // Each estimate is within 4.5 standard errors of the truth: a false failure about once in 150,000 per check.
  const within = (counts: number[], n: number, p: number[], what: string) => p.forEach((pi, i) => {
    const tol = 4.5 * Math.sqrt((pi * (1 - pi)) / n) + 1e-9;
    assert.ok(Math.abs(counts[i]! / n - pi) <= tol, `${what}: token ${i} seen ${(counts[i]! / n).toFixed(4)}, target ${pi.toFixed(4)} (±${tol.toFixed(4)})`);
  });

  const cases: [string, (Float64Array | null)[] | null][] = [
    ['deterministic drafts (q one-hot: n-gram, greedy drafts)', null],
    ['a draft model\'s own distribution q', [Float64Array.from([0.1, 0.1, 0.2, 0.3, 0.1, 0.2]), Float64Array.from([0.05, 0.05, 0.1, 0.6, 0.1, 0.1])]],
  ];
  for (const [label, draftProbs] of cases) {
    it(`${label}: first token ~ p0, and after an accepted draft the next ~ p1`, () => {
      const params = makeSamplingParams({ temperature: 0.8 });
      // Drafts are drawn from q (or fixed), as a proposer would.
      const first = new Array(6).fill(0), second = new Array(6).fill(0);
      let accepted0 = 0;
      const draftRng = new Rng(99);
      const pick = (q: Float64Array) => { let u = draftRng.next(); for (let i = 0; i < 6; i++) if ((u -= q[i]!) < 0) return i; return 5; };
      for (let seed = 0; seed < N; seed++) {
        const drafts = draftProbs ? [pick(draftProbs[0]!), pick(draftProbs[1]!)] : [3, 2];
        const r = verifyDrafts({ logits, vocab: 6, drafts, draftProbs, ctx: { params, promptTokens: [], outputTokens: [], eosTokenIds: [], rng: new Rng(seed) } });
        first[r.tokens[0]!.token]++;
        if (r.tokens[0]!.token === drafts[0]) {
          accepted0++;
          second[r.tokens[1]!.token]++;
        }
      }
      within(first, N, softmax(0, 0.8), 'position 0');
      within(second, accepted0, softmax(1, 0.8), 'position 1 after an accepted draft');
    });
  }

  it('greedy: the longest matching prefix plus the target\'s own next token', () => {
    const ctx = { params: makeSamplingParams({ temperature: 0 }), promptTokens: [], outputTokens: [], eosTokenIds: [], rng: new Rng(1) };
    assert.deepEqual(verifyDrafts({ logits, vocab: 6, drafts: [0, 2], draftProbs: null, ctx }).tokens.map((t) => t.token), [0, 2, 0]);
    assert.deepEqual(verifyDrafts({ logits, vocab: 6, drafts: [0, 5], draftProbs: null, ctx }).tokens.map((t) => t.token), [0, 2]);
    assert.deepEqual(verifyDrafts({ logits, vocab: 6, drafts: [1, 2], draftProbs: null, ctx }).tokens.map((t) => t.token), [0]);
  });
});

describe('sampled speculative decoding with a draft model', () => {
  it('passes the draft\'s own distribution q to the verifier: the target as its own draft accepts (nearly) every sampled draft', () => {
    const dir = modelDir('stories260K');
    const config = readHfConfig(dir);
    const model = new CausalLM(config, loadHfWeights(dir, config), backend.make());
    const core = new EngineCore(model, null, resolveEngineConfig(config, { kvCacheMemory: 8 << 20, speculativeModel: 'self', numSpeculativeTokens: 4 }, config), model);
    for (let i = 0; i < 16; i++) core.addRequest({ id: String(i), promptIds: [1, 400 + i], params: makeSamplingParams({ temperature: 0.9, topK: 50, seed: i, maxTokens: 40, ignoreEos: true }) });
    const out = runToCompletion(core);
    for (const [, c] of out) assert.equal(c.tokens.length, 40);
    const spec = core.stats().spec!;
    // With q = p, min(1, p/q) = 1 up to float rounding; with a one-hot q it would be p(draft), far below.
    assert.ok(spec.numDraftTokens > 300 && spec.numAcceptedTokens / spec.numDraftTokens > 0.99, JSON.stringify(spec));
  });
});

describe('speculative decoding configuration', () => {
  const config = readHfConfig(modelDir('stories260K'));
  it('refuses what cannot work, with the reason', () => {
    assert.throws(() => resolveEngineConfig(config, { kvCacheMemory: 1 << 20, speculativeMethod: 'draft-model' }), /needs a speculative model/);
    assert.throws(() => resolveEngineConfig(config, { kvCacheMemory: 1 << 20, speculativeMethod: 'layer-skip', draftLayers: 9 }), /draftLayers must be an integer from 1 to 5/);
    assert.throws(() => resolveEngineConfig(config, { kvCacheMemory: 1 << 20, speculativeMethod: 'ngram', scheduler: 'static' }), /needs the continuous scheduler/);
    assert.throws(() => resolveEngineConfig(config, { kvCacheMemory: 1 << 20, numSpeculativeTokens: 3 }), /needs a speculative method/);
    assert.throws(() => resolveEngineConfig(config, { kvCacheMemory: 1 << 20, speculativeModel: 'x' }, { ...config, vocabSize: 32000 }), /must share a tokenizer/);
  });

  it('a draft model\'s KV shares the budget: fewer blocks, in proportion', () => {
    const alone = resolveEngineConfig(config, { kvCacheMemory: 1 << 20 });
    const withDraft = resolveEngineConfig(config, { kvCacheMemory: 1 << 20, speculativeModel: 'self' }, config);
    assert.equal(withDraft.numBlocks, Math.floor(alone.numBlocks / 2));
    assert.equal(withDraft.speculative!.method, 'draft-model');
  });
});

describe('tsllm bench spec-decode and bench throughput with speculation', () => {
  it('compares plain and speculative decoding on the same requests and reports acceptance', () => {
    const r = tsllm(['bench', 'spec-decode', '-m', modelDir('stories260K'), '--speculative-method', 'ngram', '--prompt-lookup-min', '1', '--dataset', 'quote', '--input-len', '24',
      '--num-prompts', '3', '--output-len', '12', '--batch-sizes', '1,2', '--num-iters', '1', '--kv-cache-memory', '8MiB', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.rows.map((x: any) => x.batchSize), [1, 2]);
    for (const x of out.rows) {
      assert.equal(x.plainSteps, Math.ceil(3 / x.batchSize) * 12, 'plain decoding takes one step per token');
      assert.ok(x.specSteps <= x.plainSteps && x.speedup > 0);
      assert.ok(x.spec.numDrafts > 0, 'single-token matches in random passages give some drafts');
      assert.equal(x.spec.meanAcceptanceLength, 1 + x.spec.numAcceptedTokens / x.spec.numDrafts);
    }
  });

  it('bench throughput prints the mean acceptance length; the target as its own draft accepts everything', () => {
    const r = tsllm(['bench', 'throughput', '-m', 'demo', '--load-format', 'dummy', '--speculative-model', 'demo', '--num-speculative-tokens', '3',
      '--num-prompts', '2', '--input-len', '8', '--output-len', '9', '--kv-cache-memory', '16MiB']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /speculative: {7}draft-model, mean acceptance length 4\.00, 100\.0% of \d+ draft tokens accepted, by position 100% 100% 100%/);
  });
});
