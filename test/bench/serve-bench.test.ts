// The load generator: its report from known per-request records (exact), its arrival process, and
// end to end against a small SSE server whose timings are known, against a failing server, and
// against tsllm's own server.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { arrivalTimes } from '../../src/bench/arrivals.js';
import type { RequestRecord } from '../../src/bench/openai-stream-client.js';
import { summarizeRecords } from '../../src/bench/serve-bench.js';
import { servingMetrics } from '../../src/bench/latency.js';
import { tsllmAsync } from '../helpers/cli.js';
import { DEMO, startServer, type TestServer } from '../helpers/server.js';

const record = (ttftMs: number, itlMs: number[], promptTokens: number, ok = true): RequestRecord => ({
  ok, start: 0, ttftMs, itlMs, e2eMs: ttftMs + itlMs.reduce((a, b) => a + b, 0), promptTokens, outputTokens: itlMs.length + 1, text: '', ...(ok ? {} : { error: 'HTTP 500' }),
});

describe('serve report', () => {
  it('computes throughput, percentiles and goodput exactly', () => {
    const recs = [record(100, [10, 10, 10], 5), record(200, [20, 20, 20], 7), record(300, [30, 30, 30], 9), record(0, [], 0, false)];
    const r = summarizeRecords(recs, 2, [25, 75], { ttftMs: 250, tpotMs: 15 });
    assert.equal(r.completed, 3);
    assert.equal(r.failed, 1);
    assert.equal(r.requestsPerSecond, 1.5);
    assert.equal(r.totalInputTokens, 21);
    assert.equal(r.totalOutputTokens, 12);
    assert.equal(r.outputTokensPerSecond, 6);
    assert.equal(r.totalTokensPerSecond, 16.5);
    assert.deepEqual([r.ttftMs.mean, r.ttftMs.median, r.ttftMs.p90], [200, 200, 280]);
    assert.deepEqual(r.ttftMs.percentiles, { p25: 150, p75: 250 });
    assert.deepEqual([r.tpotMs.mean, r.tpotMs.median], [20, 20]);
    assert.equal(r.itlMs.median, 20);
    assert.ok(Math.abs(r.e2eMs.p99 - 387.4) < 1e-9);
    // Only the first meets both TTFT <= 250 and TPOT <= 15: 1 request in 2 s.
    assert.equal(r.goodput, 0.5);
    assert.deepEqual(r.errors, ['HTTP 500']);
  });
});

describe('bench latency in the shared format', () => {
  it('counts each iteration as batch-size requests: TTFT the prefill, TPOT one decode step', () => {
    const m = servingMetrics([
      { prefillSeconds: 1, prefillTokens: 400, decodeSeconds: 2, decodeSteps: 10 },
      { prefillSeconds: 3, prefillTokens: 400, decodeSeconds: 4, decodeSteps: 10 },
    ], 4);
    assert.equal(m.numRequests, 8);
    assert.equal(m.elapsedSeconds, 10);
    assert.equal(m.requestsPerSecond, 0.8);
    assert.equal(m.totalOutputTokens, 80);
    assert.equal(m.totalTokensPerSecond, 88);
    assert.deepEqual([m.ttftMs.mean, m.tpotMs.mean, m.e2eMs.median], [2000, 300, 5000]);
  });
});

describe('arrivals', () => {
  it('Poisson gaps average 1/rate; burstiness changes their spread, not their mean', () => {
    const gaps = (b: number) => {
      const t = arrivalTimes(20_001, 10, b, 3);
      return t.slice(1).map((x, i) => x - t[i]!);
    };
    const stats = (g: number[]) => {
      const mean = g.reduce((a, b) => a + b, 0) / g.length;
      const cv2 = g.reduce((a, b) => a + (b - mean) ** 2, 0) / g.length / mean ** 2;
      return { mean, cv2 };
    };
    const poisson = stats(gaps(1));
    assert.ok(Math.abs(poisson.mean - 0.1) < 0.003, String(poisson.mean));
    assert.ok(Math.abs(poisson.cv2 - 1) < 0.06, String(poisson.cv2));
    const bursty = stats(gaps(0.25));
    assert.ok(Math.abs(bursty.mean - 0.1) < 0.006 && Math.abs(bursty.cv2 - 4) < 0.5, JSON.stringify(bursty));
    assert.deepEqual(arrivalTimes(3, Infinity, 1, 0), [0, 0, 0]);
    assert.deepEqual(arrivalTimes(50, 10, 1, 9), arrivalTimes(50, 10, 1, 9));
  });
});

/** Streams `max_tokens` one-character chunks: the first after TTFT ms, then one every ITL ms. */
function fakeServer(ttft: number, itl: number, fail = false): http.Server {
  return http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      if (fail) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom"}}');
        return;
      }
      const b = JSON.parse(body);
      const n = b.max_tokens as number;
      const promptTokens = Array.isArray(b.prompt) ? b.prompt.length : 0;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      const tick = () => {
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, text: 'x', finish_reason: i === n - 1 ? 'length' : null }] })}\n\n`);
        if (++i < n) setTimeout(tick, itl);
        else {
          res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: n, total_tokens: promptTokens + n } })}\n\n`);
          res.end('data: [DONE]\n\n');
        }
      };
      setTimeout(tick, ttft);
    });
  });
}

async function listen(s: http.Server): Promise<string> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('tsllm bench serve end to end', () => {
  let good: http.Server;
  let bad: http.Server;
  let goodUrl: string;
  let badUrl: string;
  let tsllmServer: TestServer;
  before(async () => {
    good = fakeServer(80, 40);
    bad = fakeServer(0, 0, true);
    goodUrl = await listen(good);
    badUrl = await listen(bad);
    tsllmServer = await startServer(DEMO, { servedModelName: 'demo' });
  });
  after(async () => {
    good.close();
    bad.close();
    await tsllmServer.close();
  });

  const run = (url: string, extra: string[] = []) =>
    tsllmAsync(['bench', 'serve', '--base-url', url, '-m', 'demo', '--load-format', 'dummy', '--json', ...extra]);

  it('reports the known timings of a server (TTFT 80 ms, a token every 40 ms)', async () => {
    const r = await run(goodUrl, ['--num-prompts', '4', '--input-len', '16', '--output-len', '6', '--max-concurrency', '1', '--goodput', 'ttft:1000']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.completed, 4);
    assert.equal(j.totalInputTokens, 64);
    assert.equal(j.totalOutputTokens, 24);
    assert.ok(Math.abs(j.ttftMs.median - 80) < 30, `TTFT ${j.ttftMs.median}`);
    assert.ok(Math.abs(j.itlMs.median - 40) < 15, `ITL ${j.itlMs.median}`);
    assert.ok(Math.abs(j.tpotMs.median - 40) < 15, `TPOT ${j.tpotMs.median}`);
    assert.ok(Math.abs(j.e2eMs.median - 280) < 60, `E2E ${j.e2eMs.median}`);
    // One at a time: 4 requests of ~280 ms.
    assert.ok(j.requestsPerSecond > 2 && j.requestsPerSecond < 4.5, String(j.requestsPerSecond));
    assert.equal(j.goodput, j.requestsPerSecond);
  });

  it('reports background streams\' inter-token gaps apart from the requests\'', async () => {
    const r = await run(goodUrl, ['--num-prompts', '2', '--input-len', '8', '--output-len', '4', '--max-concurrency', '1', '--background-streams', '2', '--background-output-len', '50']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.completed, 2);
    assert.equal(j.totalOutputTokens, 8, 'background tokens are not the requests\'');
    assert.equal(j.background.streams, 2);
    assert.ok(j.background.outputTokens >= 2 * 8, String(j.background.outputTokens));
    assert.ok(Math.abs(j.background.itlMs.median - 40) < 15, `background ITL ${j.background.itlMs.median}`);
    assert.equal(JSON.parse((await run(goodUrl, ['--num-prompts', '1', '--input-len', '4', '--output-len', '2'])).stdout).background, null);
  });

  it('exits non-zero when most requests fail, saying why', async () => {
    const r = await run(badUrl, ['--num-prompts', '3', '--input-len', '4', '--output-len', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /3 of 3 requests failed: HTTP 500/);
  });

  it('drives tsllm\'s own server on both endpoints', async () => {
    for (const endpoint of ['completions', 'chat']) {
      const r = await run(tsllmServer.url, ['--endpoint', endpoint, '--num-prompts', '6', '--input-len', '24', '--output-len', '5', '--request-rate', '50', '--warmup', '1']);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.equal(j.completed, 6, endpoint);
      assert.equal(j.totalOutputTokens, 30, endpoint);
      if (endpoint === 'completions') assert.equal(j.totalInputTokens, 6 * 24);
    }
  });

  it('reports the prefix-cache hit rate the run caused, from tsllm\'s /load; null for other servers', async () => {
    // 8 requests over 2 prefixes of 64 tokens + 16 of their own, one at a time: 6 reuse a cached prefix.
    const r = await run(tsllmServer.url, ['--dataset', 'prefix-repetition', '--num-prefixes', '2', '--prefix-len', '64', '--suffix-len', '16', '--num-prompts', '8', '--output-len', '2', '--max-concurrency', '1']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.prefixCache.queriedTokens, 8 * 80);
    assert.equal(j.prefixCache.hitTokens % 16, 0, 'whole blocks');
    assert.ok(j.prefixCache.hitTokens >= 6 * 48 && j.prefixCache.hitTokens <= 6 * 64, String(j.prefixCache.hitTokens));
    const other = JSON.parse((await run(goodUrl, ['--num-prompts', '1', '--input-len', '4', '--output-len', '2'])).stdout);
    assert.equal(other.prefixCache, null);
  });
});
