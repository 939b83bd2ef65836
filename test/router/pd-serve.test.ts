// Prefill/decode disaggregation with real processes on loopback: `tsllm router --pd` over one prefill
// and one decode server gives the same greedy outputs as one server (f16 and int8 KV); both sides
// drain (leases end, pulls end) also when clients disconnect; a decode side that dies costs the
// prefill side nothing past its lease, a prefill side that dies costs the decode side one timeout
// (then it recomputes, or fails the request under the fail policy); a local prefix hit is not pulled.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startListening, startServe, waitHealthy, type ServeProcess } from '../helpers/serve-process.js';
import { assertDrained, load, MODEL, mixedRequests, sendAll, streamsWithDisconnects, type Load } from '../helpers/router-workload.js';

const PREAMBLE = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ';
const requests = mixedRequests(200, PREAMBLE);
const base = ['--kv-cache-memory', '16MiB', '--threads', '1'];

interface Transfer { pulls: number; pullFailures: number; blocksPulled: number; blocksSkipped: number; bytesPulled: number; leases: number }
const transfer = async (url: string) => ((await load(url)) as Load & { kv_transfer: Transfer }).kv_transfer;

const stop = async (p: ServeProcess) => {
  p.child.kill('SIGKILL');
  await p.exited;
};

async function startPd(kvDtype: string, extraPrefill: string[] = [], extraDecode: string[] = []) {
  const dtype = ['--kv-cache-dtype', kvDtype];
  const [prefill, decode] = await Promise.all([
    startServe([...base, ...dtype, '--kv-transfer-role', 'prefill', ...extraPrefill]),
    startServe([...base, ...dtype, '--kv-transfer-role', 'decode', '--kv-pull-timeout', '2', ...extraDecode]),
  ]);
  await Promise.all([waitHealthy(prefill.url), waitHealthy(decode.url)]);
  const router = await startListening(['router', '--port', '0', '--pd', '--prefill', prefill.url, '--decode', decode.url, '--health-check-interval', '0.2']);
  await waitHealthy(router.url);
  return { prefill, decode, router, all: [prefill, decode, router] };
}

for (const kvDtype of ['f16', 'int8']) {
  describe(`router --pd, ${kvDtype} KV`, { timeout: 240_000 }, () => {
    let single: ServeProcess;
    let pd: Awaited<ReturnType<typeof startPd>>;
    let reference: string[];
    before(async () => {
      single = await startServe([...base, '--kv-cache-dtype', kvDtype]);
      await waitHealthy(single.url);
      reference = await sendAll(single.url, requests);
      pd = await startPd(kvDtype, ['--kv-lease-seconds', '3']);
    });
    after(async () => {
      for (const p of [single, ...pd.all]) p.child.kill('SIGKILL');
    });

    it('200 mixed requests: the outputs of one server; the decode side pulled the prompts\' blocks; both drained', async () => {
      assert.ok(new Set(reference).size > 20);
      assert.deepEqual(await sendAll(pd.router.url, requests), reference);
      const t = await transfer(pd.decode.url);
      assert.equal(t.pullFailures, 0);
      // The prompts repeat: a prompt's blocks are pulled once, then found in the decode side's own cache.
      assert.ok(t.pulls >= 20, `pulls ${t.pulls}`);
      assert.ok(t.blocksPulled + t.blocksSkipped >= 2 * 200 * 0.9, `blocks ${t.blocksPulled} pulled, ${t.blocksSkipped} found locally`);
      assert.ok(t.blocksSkipped > 0, 'repeated prompts are found in the decode side\'s own cache');
      assert.ok(t.bytesPulled > 0);
      await Promise.all([pd.prefill.url, pd.decode.url].map((u) => assertDrained(u)));
      assert.equal((await transfer(pd.prefill.url)).leases, 0);
    });

    it('30% of clients disconnecting mid-stream: both sides drain', async () => {
      const cut = await streamsWithDisconnects(pd.router.url, Array.from({ length: 30 }, (_, i) => `${PREAMBLE}Tom${' ran'.repeat(i)}`), 300, 3);
      assert.equal(cut, 9);
      await Promise.all([pd.prefill.url, pd.decode.url].map((u) => assertDrained(u)));
    });
  });
}

describe('router --pd faults', { timeout: 240_000 }, () => {
  const procs: ServeProcess[] = [];
  after(() => {
    for (const p of procs) p.child.kill('SIGKILL');
  });

  it('a decode side killed mid-run: clients get errors, not hangs; the prefill side frees its leases when they expire', async () => {
    const pd = await startPd('f16', ['--kv-lease-seconds', '2']);
    procs.push(...pd.all);
    const client = new OpenAI({ baseURL: `${pd.router.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20_000 });
    const runs = Array.from({ length: 12 }, async (_, i) => {
      const stream = await client.completions.create({ model: MODEL, prompt: `${PREAMBLE}Sam${' ran'.repeat(i)}`, max_tokens: 400, temperature: 0, stream: true, ignore_eos: true } as OpenAI.CompletionCreateParamsStreaming);
      for await (const _ of stream);
    });
    const settled = Promise.allSettled(runs); // Now: a stream cut while the decode side is killed is an expected rejection.
    await new Promise((r) => setTimeout(r, 300));
    await stop(pd.decode);
    const t0 = Date.now();
    const results = await settled;
    assert.ok(Date.now() - t0 < 10_000, 'no client hangs');
    assert.ok(results.some((r) => r.status === 'rejected'), 'streams cut by the dead decode side fail');
    // New requests: no decode worker left, said at once.
    const res = await fetch(`${pd.router.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, prompt: PREAMBLE, max_tokens: 4 }) });
    assert.equal(res.status, 503);
    await new Promise((r) => setTimeout(r, 2500)); // The lease.
    await assertDrained(pd.prefill.url);
    assert.equal((await transfer(pd.prefill.url)).leases, 0);
  });

  it('a prefill side killed: the decode side gives up after its pull timeout and recomputes; the fail policy answers 503', async () => {
    const pd = await startPd('f16');
    procs.push(...pd.all);
    const single = await startServe(base);
    const failing = await startServe([...base, '--kv-transfer-role', 'decode', '--kv-pull-timeout', '1', '--kv-load-failure-policy', 'fail']);
    procs.push(single, failing);
    await Promise.all([waitHealthy(single.url), waitHealthy(failing.url)]);
    const body = { model: MODEL, prompt: `${PREAMBLE}The cat`, max_tokens: 12, temperature: 0 };
    const post = (url: string, b: object) => fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
    const want = ((await (await post(single.url, body)).json()) as { choices: { text: string }[] }).choices[0]!.text;
    // Prefilled, then the prefill side dies before the decode side pulls.
    const prefilled = (await (await post(pd.prefill.url, { ...body, max_tokens: 1, kv_transfer_params: { do_remote_decode: true } })).json()) as { kv_transfer_params: Record<string, unknown> };
    assert.ok((prefilled.kv_transfer_params['remote_num_blocks'] as number) >= 2);
    await stop(pd.prefill);
    const t0 = Date.now();
    const r = await post(pd.decode.url, { ...body, kv_transfer_params: prefilled.kv_transfer_params });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { choices: { text: string }[] }).choices[0]!.text, want, 'recomputed');
    assert.ok(Date.now() - t0 < 2000 + 3000, `took ${Date.now() - t0} ms`);
    assert.equal((await transfer(pd.decode.url)).pullFailures, 1);
    await assertDrained(pd.decode.url);
    const f = await post(failing.url, { ...body, kv_transfer_params: prefilled.kv_transfer_params });
    assert.equal(f.status, 503);
    assert.equal(((await f.json()) as { error: { code: string } }).error.code, 'kv_transfer_failed');
    await assertDrained(failing.url);
    // Through the router, with the prefill side gone: the decode side computes the prompt itself.
    await new Promise((res) => setTimeout(res, 500));
    const viaRouter = await post(pd.router.url, body);
    assert.equal(viaRouter.status, 200);
    assert.equal(((await viaRouter.json()) as { choices: { text: string }[] }).choices[0]!.text, want);
    assert.match(await (await fetch(`${pd.router.url}/metrics`)).text(), /tsllm_router:pd_prefill_fallbacks_total [1-9]/);
  });

  it('bad transfer parameters are refused, and KV from another cache layout is recomputed, not used', async () => {
    const pd = await startPd('f16');
    procs.push(...pd.all);
    const int8Decode = await startServe([...base, '--kv-cache-dtype', 'int8', '--kv-transfer-role', 'decode']);
    const int8Single = await startServe([...base, '--kv-cache-dtype', 'int8']);
    procs.push(int8Decode, int8Single);
    await Promise.all([waitHealthy(int8Decode.url), waitHealthy(int8Single.url)]);
    const post = (url: string, b: object) => fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
    const body = { model: MODEL, prompt: `${PREAMBLE}A dog`, max_tokens: 10, temperature: 0 };
    assert.equal((await post(pd.decode.url, { ...body, kv_transfer_params: { do_remote_prefill: true } })).status, 400);
    assert.equal((await post(pd.decode.url, { ...body, kv_transfer_params: { do_remote_decode: true } })).status, 400, 'a decode server does not prefill for others');
    assert.equal((await post(pd.prefill.url, { ...body, n: 2, kv_transfer_params: { do_remote_decode: true } })).status, 400);
    // A request the decode server refuses (here a bad field) ends the prefill's lease at once.
    const refused = (await (await post(pd.prefill.url, { ...body, max_tokens: 1, kv_transfer_params: { do_remote_decode: true } })).json()) as { kv_transfer_params: Record<string, unknown> };
    assert.equal((await transfer(pd.prefill.url)).leases, 1);
    assert.equal((await post(pd.decode.url, { ...body, temperature: -1, kv_transfer_params: refused.kv_transfer_params })).status, 400);
    const until = Date.now() + 3000;
    while ((await transfer(pd.prefill.url)).leases > 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
    assert.equal((await transfer(pd.prefill.url)).leases, 0, 'freed long before its 30 s lease');
    const prefilled = (await (await post(pd.prefill.url, { ...body, max_tokens: 1, kv_transfer_params: { do_remote_decode: true } })).json()) as { kv_transfer_params: Record<string, unknown> };
    const r = await post(int8Decode.url, { ...body, kv_transfer_params: prefilled.kv_transfer_params });
    const want = ((await (await post(int8Single.url, body)).json()) as { choices: { text: string }[] }).choices[0]!.text;
    assert.equal(((await r.json()) as { choices: { text: string }[] }).choices[0]!.text, want);
    const t = await transfer(int8Decode.url);
    assert.equal(t.blocksPulled, 0);
    assert.equal(t.pullFailures, 1);
    await assertDrained(pd.prefill.url);
    assert.equal((await transfer(pd.prefill.url)).leases, 0, 'the decode side said done');
  });
});
