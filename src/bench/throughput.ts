// The offline throughput benchmark: a request set through the engine (all at once, or at most
// `maxConcurrency` in flight), timed end to end, with per-request TTFT, TPOT and latency from the
// engine's own timelines.

import type { AsyncEngine } from '../engine/async-engine.js';
import type { RequestTimeline } from '../engine/request.js';
import { makeSamplingParams, type SamplingParamsInput } from '../engine/sampling/sampling-params.js';
import type { BenchRequest } from './datasets.js';
import { distribution, throughputFigures, type ServingMetrics } from './result-format.js';

export interface ThroughputResult extends ServingMetrics {
  numPreemptions: number;
  /** Prompt tokens served from the prefix cache, over prompt tokens looked up. */
  prefixCacheHitRate: number;
}

export async function benchThroughput(
  engine: AsyncEngine,
  requests: readonly BenchRequest[],
  opts: { maxConcurrency?: number; onDone?: (done: number) => void; sampling?: SamplingParamsInput } = {},
): Promise<ThroughputResult> {
  const timelines: RequestTimeline[] = [];
  let outputTokens = 0;
  let done = 0;
  const startStats = engine.stats;
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const r = requests[next++]!;
      const params = makeSamplingParams({ temperature: 0, ...opts.sampling, maxTokens: r.outputLen, ignoreEos: true });
      for await (const o of engine.generate(r.promptIds, params)) {
        outputTokens += o.tokenIds.length;
        if (o.timeline) timelines.push(o.timeline);
      }
      opts.onDone?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.maxConcurrency ?? requests.length, requests.length) }, worker));
  const elapsed = (performance.now() - start) / 1000;

  const inputTokens = requests.reduce((n, r) => n + r.promptIds.length, 0);
  const end = engine.stats!;
  const queries = end.prefixCacheQueries - (startStats?.prefixCacheQueries ?? 0);
  return {
    ...throughputFigures(requests.length, inputTokens, outputTokens, elapsed),
    ttftMs: distribution(timelines.map((t) => t.firstToken! - t.arrival)),
    tpotMs: distribution(timelines.filter((t) => t.tokens.length > 1).map((t) => (t.finished! - t.firstToken!) / (t.tokens.length - 1))),
    e2eMs: distribution(timelines.map((t) => t.finished! - t.arrival)),
    numPreemptions: end.numPreemptions - (startStats?.numPreemptions ?? 0),
    prefixCacheHitRate: queries > 0 ? (end.prefixCacheHits - (startStats?.prefixCacheHits ?? 0)) / queries : 0,
  };
}
