// Two runs of the same requests compared: the same greedy tokens, and the same top-5 logprobs within
// 1e-5 (tensor-parallel partial sums are added in another order than one process adds them).

import assert from 'node:assert/strict';
import type { LLMOutput } from '../../src/engine/llm.js';

export const LOGPROB_TOLERANCE = 1e-5;

/** Same tokens and top-5 logprobs, request by request. */
export function assertSameOutputs(got: LLMOutput[], want: LLMOutput[], what: string): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    const [a, b] = [g.outputs[0]!, want[i]!.outputs[0]!];
    assert.deepEqual(a.tokenIds, b.tokenIds, `${what}: prompt ${i} tokens`);
    a.logprobs!.forEach((lp, t) => {
      const ref = b.logprobs![t]!;
      assert.ok(Math.abs(lp.logprob - ref.logprob) <= LOGPROB_TOLERANCE, `${what}: prompt ${i} step ${t}: ${lp.logprob} vs ${ref.logprob}`);
      lp.top.forEach(([id, v], k) => {
        assert.equal(id, ref.top[k]![0], `${what}: prompt ${i} step ${t} top ${k}`);
        assert.ok(Math.abs(v - ref.top[k]![1]) <= LOGPROB_TOLERANCE, `${what}: prompt ${i} step ${t} top ${k}: ${v} vs ${ref.top[k]![1]}`);
      });
    });
  });
}
