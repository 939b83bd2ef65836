// The result format the benchmark commands share (bench serve, throughput and latency): request and
// token throughput, and TTFT, TPOT and end-to-end latency distributions in milliseconds.

import { median, percentile } from './stats.js';

export interface Distribution {
  mean: number;
  median: number;
  p90: number;
  p99: number;
  /** Any other percentiles asked for, as {"p95": ...}. */
  percentiles?: Record<string, number>;
}

export function distribution(xs: readonly number[], extra: readonly number[] = []): Distribution {
  const d: Distribution = { mean: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN, median: median(xs), p90: percentile(xs, 90), p99: percentile(xs, 99) };
  if (extra.length > 0) d.percentiles = Object.fromEntries(extra.map((p) => [`p${p}`, percentile(xs, p)]));
  return d;
}

export interface ServingMetrics {
  numRequests: number;
  elapsedSeconds: number;
  requestsPerSecond: number;
  inputTokensPerSecond: number;
  outputTokensPerSecond: number;
  totalTokensPerSecond: number;
  totalInputTokens: number;
  totalOutputTokens: number;
  ttftMs: Distribution;
  /** Time per output token after the first. */
  tpotMs: Distribution;
  e2eMs: Distribution;
}

/** The throughput half of the format: `requests` served with these token totals in `elapsedSeconds`. */
export function throughputFigures(requests: number, inputTokens: number, outputTokens: number, elapsedSeconds: number): Omit<ServingMetrics, 'ttftMs' | 'tpotMs' | 'e2eMs'> {
  return {
    numRequests: requests,
    elapsedSeconds,
    requestsPerSecond: requests / elapsedSeconds,
    inputTokensPerSecond: inputTokens / elapsedSeconds,
    outputTokensPerSecond: outputTokens / elapsedSeconds,
    totalTokensPerSecond: (inputTokens + outputTokens) / elapsedSeconds,
    totalInputTokens: inputTokens,
    totalOutputTokens: outputTokens,
  };
}
