// The router and data parallelism with real processes on loopback: the same greedy outputs through
// one server, `serve --data-parallel-size 2`, and `tsllm router` over two servers under each policy;
// workers drained and consistent afterwards, also after clients disconnect mid-stream; dead workers
// skipped, taken out and put back; workers added and removed at run time.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POLICY_NAMES } from '../../src/router/routing-policy.js';
import { BUILTIN_MODEL } from '../../src/model/load-model.js';
import { alive, childPids, freePort, startListening, startServe, waitHealthy, type ServeProcess } from '../helpers/serve-process.js';
import { assertDrained, load, MODEL, mixedRequests, sendAll, streamsWithDisconnects } from '../helpers/router-workload.js';

const SERVER_ARGS = ['--kv-cache-memory', '16MiB', '--threads', '1'];
const ROUTER_ARGS = ['--health-check-interval', '0.2'];
const BUILTIN_TOKENIZER = BUILTIN_MODEL;

const startRouter = async (workers: string[], extra: string[] = []) => {
  const r = await startListening(['router', '--port', '0', ...ROUTER_ARGS, ...workers.flatMap((w) => ['--worker', w]), ...extra]);
  await waitHealthy(r.url);
  return r;
};

const stop = async (p: ServeProcess) => {
  p.child.kill('SIGTERM');
  await p.exited;
};

describe('router and data parallelism', { timeout: 300_000 }, () => {
  const procs: ServeProcess[] = [];
  let single: ServeProcess;
  let w1: ServeProcess;
  let w2: ServeProcess;
  const requests = mixedRequests(200);
  let reference: string[];

  before(async () => {
    [single, w1, w2] = await Promise.all([startServe(SERVER_ARGS), startServe(SERVER_ARGS), startServe(SERVER_ARGS)]);
    procs.push(single, w1, w2);
    await Promise.all(procs.map((p) => waitHealthy(p.url)));
    reference = await sendAll(single.url, requests);
  });
  after(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
  });

  it('the reference run produced text', () => {
    assert.ok(reference.filter((t) => t.length > 0).length > 150);
    assert.ok(new Set(reference).size > 20);
  });

  for (const policy of POLICY_NAMES) {
    it(`router --policy ${policy} over two servers: the same greedy outputs, both used, drained after`, async () => {
      const r = await startRouter([w1.url, w2.url], ['--policy', policy]);
      try {
        assert.deepEqual(await sendAll(r.url, requests), reference);
        const metrics = await (await fetch(`${r.url}/metrics`)).text();
        for (const w of [w1, w2]) {
          const m = new RegExp(`tsllm_router:requests_total\\{worker="${w.url}",outcome="ok"\\} (\\d+)`).exec(metrics);
          assert.ok(m && Number(m[1]) >= 20, `${policy}: ${w.url} served ${m?.[1] ?? 0} of 200`);
        }
        await Promise.all([w1, w2].map((w) => assertDrained(w.url)));
      } finally {
        await stop(r);
      }
    });
  }

  it('--data-parallel-size 2: the same outputs over two engine processes, both used, drained after', async () => {
    const dp = await startServe([...SERVER_ARGS.filter((a, i, all) => a !== '--threads' && all[i - 1] !== '--threads'), '--data-parallel-size', '2']);
    procs.push(dp);
    await waitHealthy(dp.url);
    const replicas = childPids(dp.child.pid!);
    assert.equal(replicas.length, 2);
    assert.deepEqual(await sendAll(dp.url, requests), reference);
    const l = (await (await fetch(`${dp.url}/load`)).json()) as { workers: { url: string; load: { prefix_cache_queries: number } }[] };
    assert.equal(l.workers.length, 2);
    for (const w of l.workers) {
      assert.ok(w.load.prefix_cache_queries > 0, `${w.url} got no requests`);
      await assertDrained(w.url);
    }
    // The front's /metrics: its own, and both engines' under one family each.
    const m = await (await fetch(`${dp.url}/metrics`)).text();
    assert.equal((m.match(/^# TYPE tsllm:num_requests_running /gm) ?? []).length, 1);
    for (const e of ['0', '1']) assert.match(m, new RegExp(`tsllm:prefix_cache_queries(_total)?\\{model_name="stories260K",engine="${e}"\\} [1-9]`));
    assert.match(m, /tsllm_router:requests_total\{/);
    // A replica dying takes the job down: the front and the other replica exit.
    process.kill(replicas[0]!, 'SIGKILL');
    const code = await Promise.race([dp.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
    assert.equal(code, 1);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!alive(replicas[1]!), 'the other replica exited');
  });

  it('clients disconnecting mid-stream leave every worker drained and consistent', async () => {
    const r = await startRouter([w1.url, w2.url]);
    try {
      const cut = await streamsWithDisconnects(r.url, Array.from({ length: 40 }, (_, i) => `Once upon a time${' there'.repeat(i % 9)}`), 400, 2);
      assert.equal(cut, 12);
      const metrics = await (await fetch(`${r.url}/metrics`)).text();
      const aborted = [...metrics.matchAll(/tsllm_router:requests_total\{worker="[^"]+",outcome="aborted"\} (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
      assert.equal(aborted, 12);
      await Promise.all([w1.url, w2.url].map((u) => assertDrained(u)));
    } finally {
      await stop(r);
    }
  });

  it('a dead worker is skipped, taken out, and put back once it answers', async () => {
    const port = await freePort();
    const dead = `http://127.0.0.1:${port}`;
    const r = await startRouter([dead, w1.url], ['--policy', 'round-robin', '--health-failure-threshold', '1']);
    try {
      assert.deepEqual(await sendAll(r.url, requests.slice(0, 10), 2), reference.slice(0, 10));
      const workers = async () => ((await (await fetch(`${r.url}/workers`)).json()) as { workers: { url: string; healthy: boolean }[] }).workers;
      assert.equal((await workers()).find((w) => w.url === dead)!.healthy, false);
      const back = await startServe(SERVER_ARGS, port);
      procs.push(back);
      await waitHealthy(back.url);
      const until = Date.now() + 10_000;
      while (!(await workers()).find((w) => w.url === dead)!.healthy && Date.now() < until) await new Promise((res) => setTimeout(res, 100));
      assert.equal((await workers()).find((w) => w.url === dead)!.healthy, true);
      assert.deepEqual(await sendAll(r.url, requests.slice(0, 10), 2), reference.slice(0, 10));
      assert.ok((await load(back.url)).prefix_cache_queries > 0, 'the worker back in rotation got requests');
      await stop(back);
    } finally {
      await stop(r);
    }
  });

  // Cache-aware workloads: 8 prefixes of 96 token ids, 6 requests each with its own 8-token tail, 4 in flight.
  const prefixes = Array.from({ length: 8 }, (_, p) => Array.from({ length: 96 }, (_, k) => 1 + ((p * 7919 + k * 104729) % 511)));
  const prompts = Array.from({ length: 48 }, (_, i) => [...prefixes[i % 8]!, ...Array.from({ length: 8 }, (_, k) => 1 + ((i * 13 + k) % 511))]);
  const run = async (url: string) => {
    const served: string[] = new Array(prompts.length);
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < prompts.length) {
        const i = next++;
        const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, prompt: prompts[i], max_tokens: 2, temperature: 0 }) });
        assert.equal(res.status, 200);
        await res.json();
        served[i] = res.headers.get('x-tsllm-worker') ?? url;
      }
    }));
    return served;
  };
  it('cache-aware on 8 shared prefixes: each prefix stays on one worker, hits near one server\'s, load balanced', async () => {
    const hitRate = async (urls: string[], go: () => Promise<unknown>) => {
      const before = await Promise.all(urls.map(load));
      await go();
      const after = await Promise.all(urls.map(load));
      const d = (k: 'prefix_cache_hits' | 'prefix_cache_queries') => after.reduce((s, a, i) => s + a[k] - before[i]![k], 0);
      return d('prefix_cache_hits') / d('prefix_cache_queries');
    };
    const fresh = await Promise.all([startServe(SERVER_ARGS), startServe(SERVER_ARGS)]);
    procs.push(...fresh);
    const r = await startRouter(fresh.map((f) => f.url));
    try {
      const singleRate = await hitRate([single.url], () => run(single.url));
      let served: string[] = [];
      const routerRate = await hitRate(fresh.map((f) => f.url), async () => (served = await run(r.url)));
      for (let p = 0; p < 8; p++) assert.equal(new Set(served.filter((_, i) => i % 8 === p)).size, 1, `prefix ${p} went to one worker`);
      const counts = fresh.map((f) => served.filter((u) => u === f.url).length);
      assert.ok(Math.min(...counts) >= 12, `requests per worker ${counts}`);
      assert.ok(routerRate >= 0.9 * singleRate, `hit rate through the router ${routerRate.toFixed(3)}, one server ${singleRate.toFixed(3)}`);
      assert.ok(singleRate > 0.6, `one server's hit rate ${singleRate}`);
      const metrics = await (await fetch(`${r.url}/metrics`)).text();
      const sum = (name: string) => [...metrics.matchAll(new RegExp(`${name}\\{[^}]*\\} (\\d+)`, 'g'))].reduce((s, m) => s + Number(m[1]), 0);
      assert.equal(sum('tsllm_router:cache_misses_total'), 8);
      assert.equal(sum('tsllm_router:cache_hits_total'), 40);
    } finally {
      await stop(r);
      await Promise.all(fresh.map(stop));
    }
  });

  it('cache-aware from the workers\' KV-cache events: prefixes stick, the view equals each worker\'s cache, a late router replays it', async () => {
    const events = ['--kv-events-config', JSON.stringify({ enable_kv_cache_events: true, publisher: 'zmq', endpoint: 'tcp://127.0.0.1:0', replay_endpoint: 'tcp://127.0.0.1:0', topic: 'kv-events' })];
    const fresh = await Promise.all([startServe([...SERVER_ARGS, ...events]), startServe([...SERVER_ARGS, ...events])]);
    procs.push(...fresh);
    const exact = ['--kv-events', '--tokenizer', BUILTIN_TOKENIZER];
    const r = await startRouter(fresh.map((f) => f.url), exact);
    let late: ServeProcess | null = null;
    try {
      const served = await run(r.url);
      for (let p = 0; p < 8; p++) assert.equal(new Set(served.filter((_, i) => i % 8 === p)).size, 1, `prefix ${p} went to one worker`);
      // Text and chat prompts are tokenized (and templated) by the router as the workers do.
      assert.deepEqual(await sendAll(r.url, requests.slice(0, 40)), reference.slice(0, 40));
      const metrics = await (await fetch(`${r.url}/metrics`)).text();
      const sum = (name: string) => [...metrics.matchAll(new RegExp(`${name}\\{[^}]*\\} (\\d+)`, 'g'))].reduce((s, m) => s + Number(m[1]), 0);
      assert.ok(sum('tsllm_router:cache_hits_total') >= 40, `hits ${sum('tsllm_router:cache_hits_total')}`);
      assert.ok(sum('tsllm_router:kv_events_total') > 0);
      assert.equal(sum('tsllm_router:kv_event_problems_total'), 0);
      const views = async (url: string) => ((await (await fetch(`${url}/workers`)).json()) as { workers: { url: string; kv_view_blocks: number }[] }).workers;
      const cached = async (url: string) => ((await load(url)) as unknown as { kv_events: { cached_blocks: number } }).kv_events.cached_blocks;
      await Promise.all(fresh.map((f) => assertDrained(f.url)));
      const truth = await Promise.all(fresh.map((f) => cached(f.url)));
      assert.ok(truth.every((n) => n > 20), `cached blocks ${truth}`);
      const until = Date.now() + 5000;
      while (Date.now() < until && (await views(r.url)).some((w, i) => w.kv_view_blocks !== truth[i])) await new Promise((res) => setTimeout(res, 50));
      assert.deepEqual((await views(r.url)).map((w) => w.kv_view_blocks), truth);
      late = await startRouter(fresh.map((f) => f.url), exact);
      while (Date.now() < until + 5000 && (await views(late.url)).some((w, i) => w.kv_view_blocks !== truth[i])) await new Promise((res) => setTimeout(res, 50));
      assert.deepEqual((await views(late.url)).map((w) => w.kv_view_blocks), truth, 'a router started later learns the caches from the replay sockets');
    } finally {
      if (late) await stop(late);
      await stop(r);
      await Promise.all(fresh.map(stop));
    }
  });

  it('workers are listed, added and removed at run time; no worker means 503', async () => {
    const r = await startListening(['router', '--port', '0', ...ROUTER_ARGS]);
    try {
      assert.equal((await fetch(`${r.url}/health`)).status, 503);
      const none = await fetch(`${r.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, prompt: 'a' }) });
      assert.equal(none.status, 503);
      assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'no_healthy_worker');
      const post = (body: string) => fetch(`${r.url}/workers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal((await post(JSON.stringify({ url: w1.url }))).status, 201);
      assert.equal((await post(JSON.stringify({ url: w1.url }))).status, 400, 'a duplicate');
      assert.equal((await post('{"url": "ftp://x"}')).status, 400);
      assert.equal((await post('not json')).status, 400);
      await waitHealthy(r.url);
      assert.deepEqual(await sendAll(r.url, requests.slice(0, 4), 1), reference.slice(0, 4));
      const del = await fetch(`${r.url}/workers?url=${encodeURIComponent(w1.url)}`, { method: 'DELETE' });
      assert.equal(del.status, 200);
      assert.equal((await fetch(`${r.url}/workers?url=${encodeURIComponent(w1.url)}`, { method: 'DELETE' })).status, 404);
      assert.equal((await fetch(`${r.url}/health`)).status, 503);
    } finally {
      await stop(r);
    }
  });
});
