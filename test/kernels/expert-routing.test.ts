// The MoE routers against hand-worked cases: DeepSeek-V3's group-limited sigmoid routing (bias steers
// the choice, not the weights; experts outside the best groups are never chosen) and its softmax
// form, which without groups or scale is the plain softmax top-k router.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routeExperts, routeExpertsGrouped } from '../../src/kernels/reference/expert-routing.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const chosen = (r: ReturnType<typeof routeExperts>, row: number) =>
  r.rows.flatMap((rows, e) => (rows.includes(row) ? [[e, r.weights[e]![rows.indexOf(row)]!] as const] : []));

describe('DeepSeek routing', () => {
  // 8 experts in 4 groups of 2. Group scores (sum of both members): g0 = e0+e1, ...
  const logits = Float32Array.from([2.0, 1.9, -3, -3, 0.5, 0.4, 1.95, -4]);

  it('top-2 groups, then top-2 experts inside them, weights renormalized and scaled', () => {
    // sigmoid scores: groups g0 (e0, e1) and g2 (e4, e5) beat g3 (e6 alone is strong, e7 is weak).
    const r = routeExpertsGrouped(logits, 1, 8, 2, true, { scoring: 'sigmoid', groups: 4, topKGroups: 2, scale: 2.5 });
    const got = chosen(r, 0);
    assert.deepEqual(got.map(([e]) => e), [0, 1], 'e6 (third best alone) is outside the best two groups');
    const s0 = sigmoid(2.0), s1 = sigmoid(1.9);
    assert.ok(Math.abs(got[0]![1] - (s0 / (s0 + s1)) * 2.5) < 1e-6);
    assert.ok(Math.abs(got[1]![1] - (s1 / (s0 + s1)) * 2.5) < 1e-6);
  });

  it('the correction bias changes which experts are chosen but not their weights', () => {
    const bias = Float32Array.from([0, 0, 0, 0, 0, 0, 1, 0]);
    const r = routeExpertsGrouped(logits, 1, 8, 2, false, { scoring: 'sigmoid', groups: 4, topKGroups: 2, scale: 1, bias });
    const got = chosen(r, 0);
    assert.deepEqual(got.map(([e]) => e), [0, 6], 'g3 now leads; e6 is the best biased score');
    assert.ok(Math.abs(got[1]![1] - sigmoid(1.95)) < 1e-6, 'the weight is the unbiased sigmoid');
  });

  it('softmax scores in one group, unscaled: the plain softmax top-k router', () => {
    const rows = 3;
    const many = Float32Array.from({ length: rows * 8 }, (_, i) => Math.sin(i * 1.7) * 3);
    for (const norm of [true, false]) {
      const a = routeExpertsGrouped(many, rows, 8, 3, norm, { scoring: 'softmax', groups: 1, topKGroups: 1, scale: 1 });
      const b = routeExperts(many, rows, 8, 3, norm);
      assert.deepEqual(a.rows, b.rows);
      a.weights.forEach((w, e) => w.forEach((x, i) => assert.ok(Math.abs(x - b.weights[e]![i]!) < 1e-9)));
    }
  });
});
