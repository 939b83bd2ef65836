// bench latency's in-process runner: the KV cache is made once and kept across iterations (as a server
// keeps its cache), and a kept cache full of the last iteration's K/V changes no token.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TsllmLatencyRunner, benchPrompts } from '../../src/bench/latency.js';
import { CausalLM, type ForwardBatch } from '../../src/model/architectures/decoder.js';
import { presetConfig, dummyWeights } from '../../src/model/loaders/dummy.js';
import { ReferenceBackend } from '../../src/kernels/reference/reference-backend.js';
import { argmax } from '../../src/engine/sampling/logprobs.js';
import type { LayerKV } from '../../src/kernels/backend.js';

describe('bench latency (tsllm runner)', () => {
  it('keeps one KV cache across iterations, growing it only for a larger batch, with the same tokens each time', async () => {
    const c = presetConfig('demo');
    const model = new CausalLM(c, dummyWeights(c, 3, 0.5), new ReferenceBackend());
    const caches: (readonly LayerKV[])[] = [];
    let tokens: number[] = [];
    const forward = model.forward.bind(model);
    model.forward = (batch: ForwardBatch, layers: readonly LayerKV[], blockSize: number) => {
      const logits = forward(batch, layers, blockSize);
      caches.push(layers);
      tokens.push(argmax(logits.subarray(0, c.vocabSize)));
      return logits;
    };
    const runner = new TsllmLatencyRunner('t', model);
    const prompts = benchPrompts(c.vocabSize, 12, 2, 1);
    const runs: number[][] = [];
    for (let i = 0; i < 2; i++) {
      tokens = [];
      const s = await runner.runOnce(prompts, 5);
      assert.equal(s.prefillTokens, 24);
      assert.equal(s.decodeSteps, 5);
      runs.push(tokens);
    }
    assert.ok(new Set(runs[0]).size > 1, 'the demo model should not emit one token throughout');
    assert.deepEqual(runs[1], runs[0]);
    assert.equal(new Set(caches).size, 1);
    await runner.runOnce(benchPrompts(c.vocabSize, 12, 3, 1), 5);
    assert.equal(new Set(caches).size, 2);
    assert.notEqual(caches.at(-1), caches[0]);
  });
});
