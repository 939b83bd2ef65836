// The continuous scheduler without a model: decodes keep running while a long prompt is chunked under
// the token budget, the sequence cap holds, and when blocks run out the newest (fcfs) or the
// lowest-priority (priority) running request is preempted and later resumed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KVCacheManager } from '../../src/engine/kv-cache/kv-cache-manager.js';
import { Request } from '../../src/engine/request.js';
import { Rng } from '../../src/util/rng.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import { ContinuousScheduler } from '../../src/engine/scheduler/continuous-scheduler.js';
import type { SchedulerConfig, SchedulerOutput } from '../../src/engine/scheduler/scheduler.js';

let arrivals = 0;
function request(id: string, promptLen: number, priority = 0): Request {
  const params = makeSamplingParams({ maxTokens: 100 });
  const prompt = Array.from({ length: promptLen }, (_, i) => 10 + i + arrivals * 100);
  return new Request(id, prompt, params, priority, arrivals++, new Rng(0));
}

/** What the engine does after the forward pass: count the computed tokens, sample where a request caught up. */
function advance(out: SchedulerOutput): void {
  for (const { req, numNewTokens } of out.scheduled) {
    req.numComputedTokens += numNewTokens;
    if (req.numComputedTokens === req.numTokens) req.appendOutput(7);
  }
}

const shape = (out: SchedulerOutput) => Object.fromEntries(out.scheduled.map((s) => [s.req.id, s.numNewTokens]));

function setup(cfg: Partial<SchedulerConfig>, numBlocks = 64) {
  const kv = new KVCacheManager(numBlocks, 4, false);
  return { kv, s: new ContinuousScheduler({ maxNumBatchedTokens: 8, maxNumSeqs: 8, policy: 'fcfs', numLookaheadTokens: 0, recompute: false, ...cfg }, kv, []) };
}

describe('ContinuousScheduler', () => {
  it('chunks a long prompt around running decodes under the token budget', () => {
    const { s } = setup({});
    const a = request('a', 3);
    const b = request('b', 4);
    s.add(a);
    s.add(b);
    let out = s.schedule();
    assert.deepEqual(shape(out), { a: 3, b: 4 });
    advance(out);
    s.add(request('long', 20));
    out = s.schedule();
    assert.deepEqual(shape(out), { a: 1, b: 1, long: 6 });
    advance(out);
    for (const chunk of [6, 6, 2]) {
      out = s.schedule();
      assert.deepEqual(shape(out), { a: 1, b: 1, long: chunk });
      advance(out);
    }
    assert.deepEqual(shape(s.schedule()), { a: 1, b: 1, long: 1 }, 'the long prompt now decodes');
  });

  it('admits no more than max-num-seqs', () => {
    const { s } = setup({ maxNumSeqs: 2, maxNumBatchedTokens: 100 });
    for (const id of ['a', 'b', 'c']) s.add(request(id, 2));
    assert.deepEqual(Object.keys(shape(s.schedule())), ['a', 'b']);
    assert.equal(s.numWaiting, 1);
  });

  it('fcfs preempts the newest running request and resumes it first', () => {
    const { s, kv } = setup({ maxNumBatchedTokens: 100 }, 4);
    const a = request('a', 4);
    const b = request('b', 4);
    s.add(a);
    s.add(b);
    advance(s.schedule()); // one block each for the 4-token prompts
    assert.equal(kv.pool.numFree, 2);
    for (let i = 0; i < 4; i++) advance(s.schedule()); // tokens 5..8: a second block each, the pool is full
    assert.equal(kv.pool.numFree, 0);
    const out = s.schedule(); // a's ninth token needs a third block: b goes
    assert.deepEqual(out.preempted.map((r) => r.id), ['b']);
    assert.equal(b.status, 'preempted');
    assert.equal(b.numComputedTokens, 0);
    assert.deepEqual(shape(out), { a: 1 });
    assert.equal(s.numPreemptions, 1);
  });

  it('priority serves lower values first and preempts the lowest-priority request, not the newest', () => {
    const { s } = setup({ maxNumBatchedTokens: 100, policy: 'priority' }, 6);
    const low = request('low', 4, 5);
    const high = request('high', 4, 0);
    s.add(low);
    s.add(high);
    const first = s.schedule();
    assert.deepEqual(first.scheduled.map((x) => x.req.id), ['high', 'low']);
    advance(first);
    const urgent = request('urgent', 4, 1);
    s.add(urgent);
    advance(s.schedule());
    for (let i = 0; i < 3; i++) advance(s.schedule());
    const out = s.schedule(); // everyone needs a second block: only 'low' gives way
    assert.deepEqual(out.preempted.map((r) => r.id), ['low']);
    assert.deepEqual(Object.keys(shape(out)).sort(), ['high', 'urgent']);
  });

  it('reserves lookahead slots for drafts when a step reaches a request\'s end, never hashed, and runs without them when the pool is short', () => {
    const kv = new KVCacheManager(3, 4, true);
    const s = new ContinuousScheduler({ maxNumBatchedTokens: 100, maxNumSeqs: 8, policy: 'fcfs', numLookaheadTokens: 4, recompute: false }, kv, []);
    const long = request('long', 8);
    s.add(long);
    s.schedule(); // 8 prompt tokens + 4 lookahead slots: 3 blocks of 4
    assert.equal(long.blockTable.length, 3);
    assert.equal(kv.pool.numFree, 0);
    // The two blocks the prompt fills are in the prefix index, found by a longer prompt sharing them.
    long.numComputedTokens = 8;
    kv.free(long);
    const twin = request('twin', 13);
    twin.tokenIds.splice(0, 8, ...long.tokenIds);
    assert.equal(kv.findCachedPrefix(twin).numTokens, 8);
    const kv2 = new KVCacheManager(2, 4, false);
    const s2 = new ContinuousScheduler({ maxNumBatchedTokens: 100, maxNumSeqs: 8, policy: 'fcfs', numLookaheadTokens: 4, recompute: false }, kv2, []);
    const tight = request('tight', 8);
    s2.add(tight);
    assert.deepEqual(shape(s2.schedule()), { tight: 8 }, 'no room for the lookahead: the step runs without it');
    assert.equal(tight.blockTable.length, 2);
  });

  it('update appends sampled tokens, ends a request at max tokens and frees its blocks; recompute mode starts it over', () => {
    for (const recompute of [false, true]) {
      const kv = new KVCacheManager(8, 4, false);
      const s = new ContinuousScheduler({ maxNumBatchedTokens: 100, maxNumSeqs: 8, policy: 'fcfs', numLookaheadTokens: 0, recompute }, kv, [2]);
      const r = new Request('r', [5, 6, 7], makeSamplingParams({ maxTokens: 2 }), 0, 0, new Rng(0));
      s.add(r);
      const plan = s.schedule();
      const [u] = s.update(plan, [{ req: r, tokens: [9], numRejectedDrafts: 0 }]);
      assert.equal(u!.stop, null);
      assert.deepEqual(r.outputIds, [9]);
      assert.equal(r.numComputedTokens, recompute ? 0 : 3);
      assert.deepEqual(shape(s.schedule()), { r: recompute ? 4 : 1 });
      const [end] = s.update({ scheduled: [], preempted: [], paddingRows: 0 }, [{ req: r, tokens: [11], numRejectedDrafts: 0 }]);
      assert.deepEqual(end!.stop, { reason: 'length', stopReason: null, eos: false });
      assert.equal(r.status, 'finished');
      assert.equal(kv.pool.numFree, 8);
      assert.equal(s.numRunning, 0);
    }
  });
});
