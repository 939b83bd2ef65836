import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrefixTree } from '../../src/router/prefix-tree.js';
import { createPolicy, type Candidate } from '../../src/router/routing-policy.js';
import { routingKey } from '../../src/router/request-key.js';

const cands = (loads: number[], kv: number[] = loads.map(() => 0)): (Candidate & { tree: PrefixTree })[] =>
  loads.map((inFlight, index) => ({ index, inFlight, kvUsage: kv[index]!, tree: new PrefixTree(1 << 16) }));

describe('routing policies', () => {
  it('round-robin takes turns by pool index, and a worker coming back takes its old turn', () => {
    const p = createPolicy('round-robin');
    const all = cands([0, 0, 0]);
    assert.deepEqual([0, 1, 2, 3, 4].map(() => p.choose(all, []).index), [0, 1, 2, 0, 1]);
    const without1 = [all[0]!, all[2]!];
    assert.equal(p.choose(without1, []).index, 2);
    assert.equal(p.choose(without1, []).index, 0);
  });

  it('least-load picks the fewest in flight, then the lower KV usage', () => {
    const p = createPolicy('least-load');
    assert.equal(p.choose(cands([3, 1, 2]), []).index, 1);
    assert.equal(p.choose(cands([1, 1, 1], [0.5, 0.2, 0.9]), []).index, 1);
  });

  it('power-of-two picks the less loaded of two different workers', () => {
    const draws = [0.1, 0.1]; // i = 0, then j = 1
    const p = createPolicy('power-of-two', undefined, () => draws.shift() ?? 0);
    assert.equal(p.choose(cands([5, 2, 0]), []).index, 1, 'worker 2 was not drawn');
    const q = createPolicy('power-of-two', undefined, () => 0.99);
    for (let i = 0; i < 5; i++) assert.notEqual(q.choose(cands([1, 0]), []).index, 0);
  });

  it('cache-aware routes a match to its worker, spreads misses by load, and rebalances', () => {
    const p = createPolicy('cache-aware', { cacheThreshold: 0.5, balanceAbsThreshold: 4, balanceRelThreshold: 1.5 });
    const cs = cands([0, 0]);
    const a = [1, 2, 3, 4, 5, 6, 7, 8];
    const b = [9, 9, 9, 9, 9, 9, 9, 9];
    const first = p.choose(cs, a);
    assert.deepEqual(first, { index: 0, cacheHit: false });
    cs[0]!.tree.insert(a);
    cs[0]!.inFlight = 1;
    // A miss goes to the least-loaded worker, not to the one with the match.
    assert.deepEqual(p.choose(cs, b), { index: 1, cacheHit: false });
    cs[1]!.tree.insert(b);
    // A hit (>= half the key) sticks even when that worker is busier, within the thresholds.
    cs[0]!.inFlight = 4;
    assert.deepEqual(p.choose(cs, [1, 2, 3, 4, 5, 0, 0, 0]), { index: 0, cacheHit: true });
    assert.deepEqual(p.choose(cs, [1, 2, 3, 0, 0, 0, 0, 0]), { index: 1, cacheHit: false }, 'below the threshold');
    // Imbalanced (5 - 0 > 4 and 5 > 0 x 1.5): by load, whatever the cache says.
    cs[0]!.inFlight = 5;
    assert.deepEqual(p.choose(cs, a), { index: 1, rebalanced: true });
  });

  it('a miss with equal loads goes to the worker that holds less', () => {
    const p = createPolicy('cache-aware');
    const cs = cands([0, 0]);
    cs[0]!.tree.insert([1, 2, 3]);
    assert.equal(p.choose(cs, [7, 7, 7]).index, 1);
  });
});

describe('routingKey', () => {
  it('reads completions, chat and embeddings prompts; token ids never match text', () => {
    assert.deepEqual(routingKey({ prompt: 'ab' }, null), [97, 98]);
    assert.deepEqual(routingKey({ prompt: ['ab', 'cd'] }, null), [97, 98]);
    assert.deepEqual(routingKey({ input: 'a' }, null), [97]);
    const ids = routingKey({ prompt: [97, 98] }, null);
    assert.equal(ids.length, 2);
    assert.ok(ids.every((x) => x > 0x10ffff));
    const chat = routingKey({ messages: [{ role: 'user', content: 'hi' }, { role: 'user', content: [{ type: 'text', text: 'yo' }] }] }, null);
    assert.equal(String.fromCodePoint(...chat), '<user>hi<user>yo');
    assert.deepEqual(routingKey({}, null), []);
  });
});
