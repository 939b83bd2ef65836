// Streams that keep decoding while a benchmark's requests arrive: each of `count` clients sends a
// request, and another when it ends, until the benchmark is over (then they are cut). Their gaps
// between tokens show what the benchmark's requests (long prompts, say) do to streams already running:
// the stall disaggregating prefill from decode removes.

import type { Distribution } from './result-format.js';
import { distribution } from './result-format.js';
import { streamRequest, type StreamRequest } from './openai-stream-client.js';

export interface BackgroundResult {
  streams: number;
  /** Gaps between tokens of the background streams, ms. */
  itlMs: Distribution;
  outputTokens: number;
  outputTokensPerSecond: number;
}

export function startBackgroundStreams(count: number, request: Omit<StreamRequest, 'signal'>, percentiles: readonly number[]): { ready: Promise<void>; stop(): Promise<BackgroundResult> } {
  const abort = new AbortController();
  const gaps: number[] = [];
  let tokens = 0;
  let firstTokens = 0;
  const started = performance.now();
  let markFirst: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markFirst = resolve));
  const loops = Array.from({ length: count }, async () => {
    let first = true;
    while (!abort.signal.aborted) {
      const rec = await streamRequest({ ...request, signal: abort.signal });
      gaps.push(...rec.itlMs);
      tokens += rec.itlMs.length + (rec.ttftMs > 0 ? 1 : 0);
      if (first && ++firstTokens === count) markFirst();
      first = false;
      if (!rec.ok && !abort.signal.aborted) throw new Error(`a background stream failed: ${rec.error}`);
    }
  });
  return {
    ready: Promise.race([ready, Promise.all(loops).then(() => {})]),
    async stop() {
      abort.abort();
      await Promise.all(loops);
      const seconds = (performance.now() - started) / 1000;
      return { streams: count, itlMs: distribution(gaps, percentiles), outputTokens: tokens, outputTokensPerSecond: tokens / seconds };
    },
  };
}
