// The golden check through the command line, as a user runs it: on every supported fixture, each
// golden prompt through `tsllm generate --kv-cache-dtype f32` (the engine in its worker) gives
// transformers' 32 greedy tokens exactly and each step's top-5 logprobs within 1e-4.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MODEL_FIXTURES, modelDir, readJson, type ModelGolden } from '../helpers/fixtures.js';
import { tsllmAsync } from '../helpers/cli.js';

const TOL = 1e-4;

describe('tsllm generate on the fixture goldens', () => {
  for (const name of MODEL_FIXTURES) {
    it(`${name}: greedy tokens exact, top-5 logprobs within ${TOL}`, async () => {
      const golden = readJson<ModelGolden>(path.join(modelDir(name), 'golden.json'));
      const runs = await Promise.all(golden.prompts.map((p) => tsllmAsync([
        'generate', '--model', modelDir(name), '--prompt-ids', p.input_ids.join(','), '--max-tokens', '32',
        '--temperature', '0', '--ignore-eos', '--kv-cache-dtype', 'f32', '--logprobs', '5', '--json',
      ])));
      golden.prompts.forEach((p, i) => {
        const r = runs[i]!;
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout) as { token_ids: number[]; logprobs: { top: [number, number][] }[] };
        assert.deepEqual(out.token_ids, p.greedy_new_tokens, `${p.name}: greedy tokens`);
        p.greedy_steps.forEach((step, t) => {
          const top = out.logprobs[t]!.top;
          step.top5.forEach(([id, lp], j) => {
            assert.equal(top[j]![0], id, `${p.name} step ${t}: top-${j + 1} token`);
            assert.ok(Math.abs(top[j]![1] - lp) <= TOL, `${p.name} step ${t}: logprob of ${id} is ${top[j]![1]}, golden ${lp}`);
          });
        });
      });
    });
  }
});
