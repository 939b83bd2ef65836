// The online benchmark: requests sent to a server at Poisson (or gamma) arrival times, at most
// `maxConcurrency` in flight, each streamed and timed; then vLLM's serving report: throughput,
// TTFT/TPOT/ITL/E2E percentiles and goodput against SLOs.

import { arrivalTimes } from './arrivals.js';
import { streamRequest, type Endpoint, type RequestRecord } from './openai-stream-client.js';
import { distribution, throughputFigures, type Distribution, type ServingMetrics } from './result-format.js';

export interface ServeRequest {
  prompt: string | number[];
  outputLen: number;
}

/** SLOs in milliseconds; a request counts toward goodput when it meets all that are set. */
export interface GoodputSlo {
  ttftMs?: number;
  tpotMs?: number;
  e2eMs?: number;
}

export interface ServeBenchOptions {
  baseUrl: string;
  endpoint: Endpoint;
  model: string;
  apiKey?: string;
  requests: ServeRequest[];
  /** Requests/s; Infinity sends all at once. */
  requestRate: number;
  burstiness: number;
  maxConcurrency?: number;
  /** Requests sent and awaited first, not counted. */
  warmup: ServeRequest[];
  seed: number;
  percentiles: number[];
  goodput?: GoodputSlo;
  /** Extra body fields for every request (vLLM's benchmark sends ignore_eos). */
  extra?: Record<string, unknown>;
  onDone?: (done: number, record: RequestRecord) => void;
}

export interface ServeResult extends ServingMetrics {
  completed: number;
  failed: number;
  itlMs: Distribution;
  /** Requests/s that met every SLO given (absent without --goodput). */
  goodput?: number;
  errors: string[];
}

export async function runServeBench(o: ServeBenchOptions): Promise<ServeResult> {
  const send = (r: ServeRequest) => streamRequest({
    baseUrl: o.baseUrl, endpoint: o.endpoint, model: o.model, prompt: r.prompt, maxTokens: r.outputLen,
    ...(o.apiKey ? { apiKey: o.apiKey } : {}), ...(o.extra ? { extra: o.extra } : {}),
  });
  for (const w of o.warmup) await send(w);

  const times = arrivalTimes(o.requests.length, o.requestRate, o.burstiness, o.seed);
  const limit = o.maxConcurrency ?? Infinity;
  let inFlight = 0;
  const slotFreed: (() => void)[] = [];
  const records: RequestRecord[] = [];
  const start = performance.now();
  await Promise.all(o.requests.map(async (r, i) => {
    const wait = start + times[i]! * 1000 - performance.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    while (inFlight >= limit) await new Promise<void>((res) => slotFreed.push(res));
    inFlight++;
    try {
      const rec = await send(r);
      records[i] = rec;
      o.onDone?.(records.filter(Boolean).length, rec);
    } finally {
      inFlight--;
      slotFreed.shift()?.();
    }
  }));
  return summarizeRecords(records, (performance.now() - start) / 1000, o.percentiles, o.goodput);
}

/** The report from per-request records (pure, so tests can check it exactly). */
export function summarizeRecords(records: readonly RequestRecord[], elapsedSeconds: number, percentiles: readonly number[] = [], slo?: GoodputSlo): ServeResult {
  const ok = records.filter((r) => r.ok);
  const tpot = (r: RequestRecord) => (r.outputTokens > 1 ? (r.e2eMs - r.ttftMs) / (r.outputTokens - 1) : NaN);
  const input = ok.reduce((n, r) => n + r.promptTokens, 0);
  const output = ok.reduce((n, r) => n + r.outputTokens, 0);
  const result: ServeResult = {
    // Throughput counts the requests that completed; numRequests counts all that were sent.
    ...throughputFigures(ok.length, input, output, elapsedSeconds),
    numRequests: records.length,
    completed: ok.length,
    failed: records.length - ok.length,
    ttftMs: distribution(ok.map((r) => r.ttftMs), percentiles),
    tpotMs: distribution(ok.map(tpot).filter((x) => !Number.isNaN(x)), percentiles),
    itlMs: distribution(ok.flatMap((r) => r.itlMs), percentiles),
    e2eMs: distribution(ok.map((r) => r.e2eMs), percentiles),
    errors: [...new Set(records.filter((r) => !r.ok).map((r) => r.error ?? 'unknown error'))].slice(0, 5),
  };
  if (slo) {
    const good = ok.filter((r) => (slo.ttftMs === undefined || r.ttftMs <= slo.ttftMs) && (slo.tpotMs === undefined || !(tpot(r) > slo.tpotMs)) && (slo.e2eMs === undefined || r.e2eMs <= slo.e2eMs));
    result.goodput = good.length / elapsedSeconds;
  }
  return result;
}
