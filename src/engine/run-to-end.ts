// The step loop driven synchronously in the caller's thread, for work that times or inspects single
// requests without a worker (the KV-cache experiments, accuracy measurements): add the requests, step
// until they finish, gather each one's tokens.

import type { EngineCore } from './engine-core.js';
import type { RequestFinishReason, RequestTimeline } from './request.js';
import type { SamplingParams } from './sampling/sampling-params.js';

export interface FinishedRequest {
  tokenIds: number[];
  text: string;
  finishReason: RequestFinishReason;
  timeline: RequestTimeline;
}

export function runToEnd(core: EngineCore, prompts: readonly (readonly number[])[], params: SamplingParams): FinishedRequest[] {
  const base = `sync-${runs++}`;
  const ids = prompts.map((promptIds, i) => {
    const id = `${base}-${i}`;
    core.addRequest({ id, promptIds, params });
    return id;
  });
  const acc = new Map(ids.map((id) => [id, { tokenIds: [] as number[], text: '' }]));
  const done = new Map<string, FinishedRequest>();
  while (core.hasWork) {
    for (const o of core.step()) {
      const a = acc.get(o.requestId);
      if (!a) continue;
      a.tokenIds.push(...o.tokenIds);
      a.text += o.text;
      if (o.finishReason) done.set(o.requestId, { ...a, finishReason: o.finishReason, timeline: o.timeline! });
    }
  }
  return ids.map((id) => done.get(id)!);
}
let runs = 0;
