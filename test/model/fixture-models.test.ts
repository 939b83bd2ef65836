// Every architecture against Hugging Face transformers' float32 goldens: last-position logits for all
// four prompts, all-position logits for the 7-token prompt, 32 greedy tokens and their top-5 logprobs.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadHfWeights, readHfConfig } from '../../src/model/loaders/hf-folder.js';
import { SequenceContext } from '../helpers/sequence-context.js';
import { logSoftmax, argmax } from '../../src/engine/sampling/logprobs.js';
import { testBackends } from '../helpers/backends.js';
import { MODEL_FIXTURES, maxAbsDiff, modelDir, readJson, type ModelGolden } from '../helpers/fixtures.js';

const TOL = 1e-4;

for (const backend of testBackends()) for (const name of MODEL_FIXTURES) {
  describe(`fixture ${name} on ${backend.name}`, () => {
    const dir = modelDir(name);
    const config = readHfConfig(dir);
    const model = new CausalLM(config, loadHfWeights(dir, config), backend.make());
    const golden = readJson<ModelGolden>(path.join(dir, 'golden.json'));

    for (const p of golden.prompts) {
      it(`${p.name}: logits within ${TOL}, 32 greedy tokens and top-5 logprobs`, () => {
        const ctx = new SequenceContext(model, p.input_ids.length + 32);
        const withAll = p.all_logits !== undefined;
        let logits = ctx.eval(p.input_ids, withAll);
        const V = config.vocabSize;
        if (withAll) {
          p.all_logits!.forEach((row, i) => {
            assert.ok(maxAbsDiff(logits.subarray(i * V, (i + 1) * V), row) < TOL, `position ${i}`);
          });
          logits = logits.subarray((p.input_ids.length - 1) * V);
        }
        assert.ok(maxAbsDiff(logits, p.last_logits) < TOL, `last logits differ by ${maxAbsDiff(logits, p.last_logits)}`);

        const generated: number[] = [];
        for (let step = 0; step < 32; step++) {
          const token = argmax(logits);
          const lp = logSoftmax(logits);
          const expected = p.greedy_steps[step]!;
          for (const [id, value] of expected.top5) {
            assert.ok(Math.abs(lp[id]! - value) < TOL, `step ${step} logprob of ${id}: ${lp[id]} vs ${value}`);
          }
          generated.push(token);
          logits = ctx.eval([token]);
        }
        assert.deepEqual(generated, p.greedy_new_tokens);
      });
    }
  });
}
