// A step's batch cut into pipeline micro-batches: whole sequences, about equal in rows, rows
// renumbered from 0, and each logits/hidden row traced back to its place in the whole batch.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchBuilder } from '../../src/engine/runner/batch-builder.js';
import { splitMicroBatches } from '../../src/engine/parallel/micro-batches.js';

const builder = new BatchBuilder(4);
const decode = (start: number, block: number) => ({ tokenIds: [start], start, blockTable: [block, block + 1, block + 2], logitsFrom: 0 });

describe('micro-batches', () => {
  it('cut a decode batch into equal halves of whole sequences', () => {
    const b = builder.build(Array.from({ length: 6 }, (_, i) => decode(5 + i, 3 * i)));
    const parts = splitMicroBatches(b, 2);
    assert.equal(parts.length, 2);
    assert.deepEqual(parts.map((p) => p.batch.seqs.length), [3, 3]);
    assert.deepEqual(Array.from(parts[1]!.batch.positions), [8, 9, 10]);
    assert.deepEqual(parts[1]!.batch.seqs.map((s) => s.queryStart), [0, 1, 2]);
    assert.deepEqual(parts.map((p) => Array.from(p.logitsIndex)), [[0, 1, 2], [3, 4, 5]]);
    assert.deepEqual(Array.from(parts[1]!.batch.logitsRows), [0, 1, 2]);
    assert.deepEqual(Array.from(parts[1]!.batch.promptLens!), [9, 10, 11]);
  });

  it('keep a long prefill whole and put the decodes beside it', () => {
    const prefill = { tokenIds: Array.from({ length: 10 }, (_, i) => i), start: 0, blockTable: [0, 1, 2], logitsFrom: 9, hiddenRows: [0, 10] as const };
    const b = builder.build([prefill, decode(3, 6), decode(7, 9)]);
    const parts = splitMicroBatches(b, 2);
    assert.deepEqual(parts.map((p) => p.batch.tokenIds.length), [10, 2]);
    assert.deepEqual(Array.from(parts[0]!.batch.hiddenRows!), Array.from({ length: 10 }, (_, i) => i));
    assert.deepEqual(Array.from(parts[1]!.batch.hiddenRows!), []);
    assert.deepEqual(Array.from(parts[1]!.batch.slotMapping), Array.from(b.slotMapping.subarray(10)));
    assert.deepEqual(parts.map((p) => Array.from(p.logitsIndex)), [[0], [1, 2]]);
  });

  it('never cut more pieces than sequences, nor a sequence in two', () => {
    const b = builder.build([{ tokenIds: [1, 2, 3, 4, 5, 6], start: 0, blockTable: [0, 1], logitsFrom: 5 }]);
    const parts = splitMicroBatches(b, 4);
    assert.equal(parts.length, 1);
    assert.equal(parts[0]!.batch.tokenIds.length, 6);
    assert.equal(splitMicroBatches(builder.build([decode(1, 0), decode(2, 3)]), 4).length, 2);
  });
});
