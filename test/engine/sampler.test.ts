// The sampler's truncations against a plain specification: sort every token by logit (ties to the
// lower id), cut to top-k, to the top-p nucleus and by min-p, then draw along that order (by id when
// neither top-k nor top-p asks for one). The sampler reaches the same tokens while ordering only what
// the truncation needs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/util/rng.js';
import { sampleToken } from '../../src/engine/sampling/sampler.js';
import { makeSamplingParams, type SamplingParams, type SamplingParamsInput } from '../../src/engine/sampling/sampling-params.js';

/** The candidates in draw order and their unnormalized probabilities, as the processors define them. */
function specCandidates(logits: Float32Array, p: SamplingParams): { ids: number[]; probs: number[] } {
  const V = logits.length;
  const max = Math.max(...logits);
  let ids = Array.from({ length: V }, (_, i) => i).filter((i) => logits[i]! > -Infinity);
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (p.topK > 0) ids = ids.slice(0, p.topK);
  let probs = ids.map((i) => Math.exp((logits[i]! - max) / p.temperature));
  let total = probs.reduce((a, b) => a + b, 0);
  if (p.topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < ids.length) {
      cum += probs[keep]! / total;
      keep++;
      if (cum >= p.topP) break;
    }
    ids = ids.slice(0, keep);
    probs = probs.slice(0, keep);
    total = probs.reduce((a, b) => a + b, 0);
  }
  if (p.minP > 0) {
    const threshold = p.minP * (probs[0]! / total);
    const keep = probs.filter((x) => x / total >= threshold).length;
    ids = ids.slice(0, keep);
    probs = probs.slice(0, keep);
  }
  // Without top-k or top-p nothing needs an order, and the draw walks the kept tokens by id.
  if (p.topK === 0 && p.topP === 1) {
    const order = ids.map((_, j) => j).sort((a, b) => ids[a]! - ids[b]!);
    return { ids: order.map((j) => ids[j]!), probs: order.map((j) => probs[j]!) };
  }
  return { ids, probs };
}

function randomLogits(rng: Rng, V: number, spread: number): Float32Array {
  const l = new Float32Array(V);
  for (let i = 0; i < V; i++) l[i] = Math.round((rng.next() - 0.5) * spread * 4) / 4; // quarter steps: many ties
  return l;
}

describe('sampler truncations', () => {
  const configs: SamplingParamsInput[] = [
    { temperature: 0.7, topK: 5 }, { temperature: 1, topK: 1 }, { temperature: 1.3, topP: 0.9 }, { temperature: 0.5, topP: 0.3 },
    { temperature: 1, topK: 50, topP: 0.8 }, { temperature: 1, minP: 0.2 }, { temperature: 0.9, topK: 20, topP: 0.95, minP: 0.05 },
  ];
  for (const cfg of configs) {
    it(`draws what the sort-everything specification draws: ${JSON.stringify(cfg)}`, () => {
      const data = new Rng(11);
      for (let trial = 0; trial < 40; trial++) {
        const logits = randomLogits(data, 300, trial % 2 ? 4 : 20);
        const params = makeSamplingParams({ ...cfg, seed: trial });
        const spec = specCandidates(logits, params);
        // Same u, same walk along the same candidates.
        const u = new Rng(trial).next() * spec.probs.reduce((a, b) => a + b, 0);
        let left = u;
        let expected = spec.ids[spec.ids.length - 1]!;
        for (let j = 0; j < spec.ids.length; j++) {
          left -= spec.probs[j]!;
          if (left < 0) {
            expected = spec.ids[j]!;
            break;
          }
        }
        const got = sampleToken(logits, { params, promptTokens: [], outputTokens: [], eosTokenIds: [], rng: new Rng(trial) });
        assert.equal(got.token, expected, `trial ${trial}`);
      }
    });
  }

  it('plain temperature sampling follows the softmax (id order, no truncation)', () => {
    const logits = Float32Array.from([0, Math.log(3), -Infinity, Math.log(6)]);
    const params = makeSamplingParams({ temperature: 1 });
    const rng = new Rng(5);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) counts[sampleToken(logits, { params, promptTokens: [], outputTokens: [], eosTokenIds: [], rng }).token]!++;
    assert.equal(counts[2], 0, 'a banned token is never drawn');
    [1 / 10, 3 / 10, 0, 6 / 10].forEach((p, i) => assert.ok(Math.abs(counts[i]! / 20_000 - p) < 0.015, `token ${i}: ${counts[i]}`));
  });
});
