// llama.cpp's quantized files run as llama.cpp means them (../shared/fixtures/gguf-quants, its README).
// The reference backend multiplies the dequantized weights in float32: logits within 1e-4 of HF
// transformers on those weights and greedy tokens exact. Each native kernel build quantizes the
// activations per block of 32 as llama.cpp's kernels do, so it is held to llama.cpp's own distance
// from the golden on that file (teacher-forced over the golden's greedy steps), and its argmax must be
// the golden token wherever the golden's top-1/top-2 margin exceeds that distance.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../../src/model/load-model.js';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { argmax, logSoftmax } from '../../src/engine/sampling/logprobs.js';
import { SequenceContext } from '../helpers/sequence-context.js';
import { maxAbsDiff } from '../helpers/fixtures.js';
import { testBackends } from '../helpers/backends.js';
import { quantFiles } from '../helpers/quant-fixtures.js';

for (const backend of testBackends()) {
  describe(`llama.cpp quantized files on ${backend.name}`, () => {
    for (const f of quantFiles()) {
      it(`${f.model} ${f.type}`, async () => {
        const m = await loadModel(f.file);
        const model = new CausalLM(m.config, m.weights, backend.make());
        const exact = backend.name === 'reference';
        const distance = Math.max(1e-4, exact ? 0 : f.golden.llama_cpp.max_abs_dlogit_teacher_forced_all_prompts);
        let worst = 0;
        for (const p of f.golden.prompts) {
          const ctx = new SequenceContext(model, p.input_ids.length + p.greedy_steps.length);
          let logits = ctx.eval(p.input_ids);
          worst = Math.max(worst, maxAbsDiff(logits, p.last_logits));
          for (const [t, step] of p.greedy_steps.entries()) {
            const lp = logSoftmax(logits);
            for (const [id, golden] of step.top5) worst = Math.max(worst, Math.abs(lp[id]! - golden) / 2);
            if (exact || step.top1_top2_logit_margin > distance) {
              assert.equal(argmax(logits), step.token, `${p.name} step ${t} (margin ${step.top1_top2_logit_margin})`);
            }
            logits = ctx.eval([step.token]);
          }
          if (exact) assert.deepEqual(p.greedy_steps.map((s) => s.token), p.greedy_new_tokens);
        }
        // Top-5 logprobs count at half weight: a logprob moves by at most twice the largest logit change.
        assert.ok(worst <= distance, `max |dlogit| ${worst.toExponential(3)} > ${distance.toExponential(3)}`);
        console.log(`# ${backend.name} ${f.model} ${f.type}: max |dlogit| ${worst.toExponential(3)} (bound ${distance.toExponential(3)})`);
      });
    }
  });
}
