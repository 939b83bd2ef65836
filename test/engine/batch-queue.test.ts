// Passes in flight (the pipeline's batch queue), checked in one process with a model that lets two
// passes overlap: the running requests are spread over both passes, a request is never in two at
// once (no two passes in flight write one cache slot), and the tokens are those of each request
// generated alone, also when the budget forces preemption, with prefix-cache hits and when a request
// in flight is aborted.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EngineCore } from '../../src/engine/engine-core.js';
import { resolveEngineConfig, type EngineConfigInput } from '../../src/engine/engine-config.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import type { OverlappingModel } from '../../src/engine/runner/model-runner.js';
import type { LayerKV } from '../../src/kernels/backend.js';
import { kvBytesPerToken } from '../../src/kernels/kv-cache-dtype.js';
import { CausalLM, type ForwardBatch } from '../../src/model/architectures/decoder.js';
import { loadHfWeights, readHfConfig } from '../../src/model/loaders/hf-folder.js';
import { testBackends } from '../helpers/backends.js';
import { runToCompletion } from '../helpers/engine.js';
import { modelDir, readJson, type ModelGolden } from '../helpers/fixtures.js';
import { TextGenerator } from '../helpers/text-generator.js';

/** Runs each pass at submit, as a pipeline's first stage does, and hands its outputs over later. */
class TwoInFlight extends CausalLM implements OverlappingModel {
  readonly maxInFlight = 2;
  private readonly inFlight: Set<number>[] = [];
  mostInFlight = 0;

  submitForward(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number) {
    const slots = new Set(batch.slotMapping);
    for (const other of this.inFlight) for (const s of slots) assert.ok(!other.has(s), `slot ${s} is written by two passes in flight`);
    this.inFlight.push(slots);
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight.length);
    const out = this.forwardWithHidden(batch, kv, blockSize);
    return () => {
      this.inFlight.splice(this.inFlight.indexOf(slots), 1);
      return out;
    };
  }
}

describe('passes in flight (batch queue)', () => {
  const dir = modelDir('llama-gqa');
  const config = readHfConfig(dir);
  const backend = testBackends()[0]!.make();
  const weights = loadHfWeights(dir, config);
  const golden = readJson<ModelGolden>(path.join(dir, 'golden.json'));
  const long = golden.prompts[3]!.input_ids;
  const work = [
    ...golden.prompts.map((p, i) => ({ id: `golden-${i}`, prompt: p.input_ids, maxTokens: 24 })),
    ...Array.from({ length: 8 }, (_, i) => ({ id: `mixed-${i}`, prompt: long.slice(0, 3 + ((i * 7) % 20)), maxTokens: 4 + i * 3 })),
  ];
  const params = (maxTokens: number) => makeSamplingParams({ temperature: 0, maxTokens, ignoreEos: true });
  const reference = new CausalLM(config, weights, backend);
  const alone = new Map(work.map((w) => [w.id, new TextGenerator(reference, null).complete(w.prompt, params(w.maxTokens)).tokenIds]));

  const start = (cfg: EngineConfigInput, requests = work) => {
    const model = new TwoInFlight(config, weights, backend);
    const core = new EngineCore(model, null, resolveEngineConfig(config, { kvCacheMemory: 16 << 20, ...cfg }));
    for (const w of requests) core.addRequest({ id: w.id, promptIds: w.prompt, params: params(w.maxTokens) });
    return { model, core };
  };
  const assertSameAsAlone = (out: Map<string, { tokens: number[] }>) => {
    for (const w of work) assert.deepEqual(out.get(w.id)!.tokens, alone.get(w.id), w.id);
  };

  it('spreads the requests over two passes in flight and gives each request its tokens alone', () => {
    const { model, core } = start({});
    const out = runToCompletion(core);
    assert.equal(model.mostInFlight, 2);
    assertSameAsAlone(out);
    assert.equal(core.kv.pool.numFree, core.kv.numBlocks, 'every block is free at the end');
  });

  it('under preemption, chunked prefill and prefix-cache hits', () => {
    const blockBytes = kvBytesPerToken('f16', config.numLayers, config.numKvHeads, config.headDim) * 4;
    const tight = start({ blockSize: 4, kvCacheMemory: 40 * blockBytes });
    const out = runToCompletion(tight.core);
    assert.ok(tight.core.scheduler.numPreemptions > 0, 'the budget forces preemptions');
    assertSameAsAlone(out);
    assertSameAsAlone(runToCompletion(start({ maxNumBatchedTokens: 7 }).core));
    const twice = [...work, ...work.map((w) => ({ ...w, id: `again-${w.id}` }))];
    const cached = start({ blockSize: 4 }, twice);
    const again = runToCompletion(cached.core);
    assert.ok(cached.core.kv.stats.hits > 0);
    for (const w of work) assert.deepEqual(again.get(`again-${w.id}`)!.tokens, alone.get(w.id), w.id);
  });

  it('aborts a request in flight once its pass is back, and frees its blocks', () => {
    const { core } = start({});
    // The first step submits two passes of 6 requests and collects the first: the last request is in
    // the second, still in flight.
    const out = runToCompletion(core, (step) => step === 1 && core.abort('mixed-7'));
    assert.equal(out.get('mixed-7')!.finish!.finishReason, 'abort');
    for (const w of work.filter((x) => x.id !== 'mixed-7')) assert.deepEqual(out.get(w.id)!.tokens, alone.get(w.id), w.id);
    assert.equal(core.kv.pool.numFree, core.kv.numBlocks);
  });

  it('refuses speculative decoding and the static scheduler', () => {
    assert.throws(() => start({ scheduler: 'static' }), /pipeline parallelism runs with the continuous scheduler and without speculative decoding/);
    assert.throws(() => start({ speculativeMethod: 'ngram', numSpeculativeTokens: 2 }), /pipeline parallelism runs with the continuous scheduler/);
  });
});
