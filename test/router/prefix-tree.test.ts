import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrefixTree } from '../../src/router/prefix-tree.js';

describe('PrefixTree', () => {
  it('matches the longest stored prefix, across split edges', () => {
    const t = new PrefixTree(1000);
    t.insert([1, 2, 3, 4, 5]);
    t.insert([1, 2, 9]);
    assert.equal(t.matchLength([1, 2, 3, 4, 5, 6]), 5);
    assert.equal(t.matchLength([1, 2, 3, 7]), 3);
    assert.equal(t.matchLength([1, 2, 9, 9]), 3);
    assert.equal(t.matchLength([2]), 0);
    assert.equal(t.matchLength([]), 0);
    assert.equal(t.size, 6, 'shared head stored once');
    t.insert([1, 2, 3, 4, 5]);
    assert.equal(t.size, 6, 'reinserting adds nothing');
  });

  it('evicts the least recently used leaves down to 90% of its size', () => {
    const t = new PrefixTree(25);
    t.insert([1, ...Array(9).fill(1)]);
    t.insert([2, ...Array(9).fill(2)]);
    t.insert([1, ...Array(9).fill(1)]); // 1... is now more recent than 2...
    t.insert([3, ...Array(9).fill(3)]);
    assert.equal(t.size, 20);
    assert.equal(t.matchLength([2, 2, 2]), 0, 'oldest went first');
    assert.equal(t.matchLength(Array(10).fill(1)), 10);
    assert.equal(t.matchLength(Array(10).fill(3)), 10);
  });
});
