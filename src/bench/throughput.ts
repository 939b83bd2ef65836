// The offline throughput benchmark: a request set through the engine (all at once, or at most
// `maxConcurrency` in flight), timed end to end, with per-request TTFT, TPOT and latency from the
// engine's own timelines.

import type { AsyncEngine } from '../engine/async-engine.js';
import type { SpecDecodeStats } from '../engine/spec-decode/spec-decoder.js';
import type { RequestTimeline } from '../engine/request.js';
import { makeSamplingParams, type SamplingParamsInput } from '../engine/sampling/sampling-params.js';
import type { BenchRequest } from './datasets.js';
import { distribution, throughputFigures, type ServingMetrics } from './result-format.js';

export interface ThroughputResult extends ServingMetrics {
  numPreemptions: number;
  /** Prompt tokens served from the prefix cache, over prompt tokens looked up. */
  prefixCacheHitRate: number;
  /** Speculative decoding over the run (absent when it is off). */
  specDecode?: SpecDecodeFigures;
}

export interface SpecDecodeFigures {
  numDrafts: number;
  numDraftTokens: number;
  numAcceptedTokens: number;
  /** Accepted over proposed draft tokens. */
  acceptanceRate: number;
  /** Tokens each verified draft run yields, the target's own token included: 1 + accepted / drafts. */
  meanAcceptanceLength: number;
  /** Per draft position i: the share of draft runs whose i-th token was accepted. */
  acceptedPerPosition: number[];
  draftSeconds: number;
}

/** The figures of the speculative decoding done between two stats snapshots. */
export function specDecodeFigures(start: SpecDecodeStats | undefined, end: SpecDecodeStats): SpecDecodeFigures {
  const numDrafts = end.numDrafts - (start?.numDrafts ?? 0);
  const numDraftTokens = end.numDraftTokens - (start?.numDraftTokens ?? 0);
  const numAcceptedTokens = end.numAcceptedTokens - (start?.numAcceptedTokens ?? 0);
  return {
    numDrafts, numDraftTokens, numAcceptedTokens,
    acceptanceRate: numDraftTokens > 0 ? numAcceptedTokens / numDraftTokens : 0,
    meanAcceptanceLength: numDrafts > 0 ? 1 + numAcceptedTokens / numDrafts : 1,
    acceptedPerPosition: end.acceptedPerPosition.map((n, i) => (numDrafts > 0 ? (n - (start?.acceptedPerPosition[i] ?? 0)) / numDrafts : 0)),
    draftSeconds: (end.draftMs - (start?.draftMs ?? 0)) / 1000,
  };
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
    ...(end.spec ? { specDecode: specDecodeFigures(startStats?.spec, end.spec) } : {}),
  };
}
