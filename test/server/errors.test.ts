// Every way a client can get it wrong gets an OpenAI-shaped 4xx (or 503 when the queue is full), the
// official client maps it to its error class, and the server keeps serving. A client that disconnects
// mid-stream has its request aborted and its KV blocks freed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { DEMO, STORIES, eventually, metricValue, postJson, startServer, type TestServer } from '../helpers/server.js';

describe('client errors', () => {
  let s: TestServer;
  before(async () => {
    // The reference kernels: slow enough that a long request is still running when the queue-full probes arrive.
    s = await startServer({ ...STORIES, maxNumSeqs: 1, backend: 'reference' }, { servedModelName: 'stories', maxWaiting: 0, bodyLimit: 64 * 1024 });
  });
  after(() => s.close());

  it('an invalid field is a 400 naming it', async () => {
    await assert.rejects(s.client.completions.create({ model: 'stories', prompt: 'hi', temperature: 5 }), (e: any) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.status, 400);
      assert.equal(e.param, 'temperature');
      assert.equal(e.type, 'invalid_request_error');
      return true;
    });
    await assert.rejects(s.client.completions.create({ model: 'stories' } as any), (e: any) => e instanceof OpenAI.BadRequestError && e.param === 'prompt');
    await assert.rejects(s.client.chat.completions.create({ model: 'stories', messages: [{ role: 'wizard', content: 'x' }] } as any),
      (e: any) => e instanceof OpenAI.BadRequestError && e.param === 'messages.0.role');
  });

  it('prompt plus max_tokens beyond the model length is a 400', async () => {
    const models = await s.client.models.list();
    const maxLen = (models.data[0] as any).max_model_len as number;
    await assert.rejects(s.client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: maxLen }), (e: any) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.code, 'context_length_exceeded');
      assert.equal(e.param, 'max_tokens');
      assert.match(e.message, new RegExp(`maximum context length is ${maxLen} tokens`));
      return true;
    });
    await assert.rejects(s.client.completions.create({ model: 'stories', prompt: new Array(maxLen).fill(5), max_tokens: 1 }), (e: any) => e.status === 400 && e.code === 'context_length_exceeded');
  });

  it('a chat request to a model without a chat template continues the text of its messages', async () => {
    const chat = await s.client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 12, temperature: 0 });
    const plain = await s.client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 12, temperature: 0 });
    assert.equal(chat.choices[0]!.message.content, plain.choices[0]!.text);
    assert.equal(chat.usage!.prompt_tokens, plain.usage!.prompt_tokens);
    // Turns after the first: each message starts a line; the reply continues the text before it.
    const turns = await s.client.chat.completions.create({ model: 'stories', max_tokens: 8, temperature: 0, messages: [
      { role: 'user', content: 'Once upon a time' }, { role: 'assistant', content: ', there was a cat.' }, { role: 'user', content: 'The cat' }] });
    const joined = await s.client.completions.create({ model: 'stories', prompt: 'Once upon a time, there was a cat.\nThe cat', max_tokens: 8, temperature: 0 });
    assert.equal(turns.choices[0]!.message.content, joined.choices[0]!.text);
  });

  it('an unknown model is a 404', async () => {
    await assert.rejects(s.client.completions.create({ model: 'gpt-17', prompt: 'hi' }), (e: any) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  });

  it('an oversized body is a 413, malformed JSON a 400, an unknown route a 404', async () => {
    const big = await postJson(`${s.url}/v1/completions`, { model: 'stories', prompt: 'x'.repeat(100_000) });
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, 'request_too_large');
    const bad = await postJson(`${s.url}/v1/completions`, '{"model": "stories", "prompt": ');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.type, 'invalid_request_error');
    await assert.rejects(s.client.completions.create({ model: 'stories', prompt: 'x'.repeat(100_000) }), (e: any) => e instanceof OpenAI.APIError && e.status === 413 && e.code === 'request_too_large');
    const none = await fetch(`${s.url}/v1/audio/speech`, { method: 'POST' });
    assert.equal(none.status, 404);
    assert.equal((await none.json()).error.code, 'not_found');
  });

  it('no body of any shape gets a 500 or takes the server down', async () => {
    const bodies = [null, 42, 'text', [], [1, 2], {}, { model: 'stories', prompt: [] }, { model: 'stories', prompt: [[]] }, { model: 'stories', prompt: [-1] },
      { model: 'stories', prompt: [1e12] }, { model: 'stories', prompt: 'hi', n: 0 }, { model: 'stories', prompt: 'hi', max_tokens: -3 },
      { model: 'stories', prompt: 'hi', stop: [''] }, { model: 'stories', prompt: 'hi', logprobs: 99 },
      { model: 'stories', prompt: 'hi', min_tokens: 50, max_tokens: 2 }, { model: 'stories', prompt: 'hi', seed: -1 }, { model: 'stories', prompt: { a: 1 } }];
    for (const b of bodies) {
      const r = await postJson(`${s.url}/v1/completions`, b);
      assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(b)} -> ${r.status} ${JSON.stringify(r.json)}`);
      assert.equal(typeof r.json.error.message, 'string');
    }
    for (const b of [{ model: 'stories', messages: [] }, { model: 'stories', messages: [{ role: 'user' }] }, { model: 'stories', messages: 'hi' }]) {
      const r = await postJson(`${s.url}/v1/chat/completions`, b);
      assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(b)} -> ${r.status}`);
    }
    const ok = await s.client.completions.create({ model: 'stories', prompt: 'Once', max_tokens: 2 });
    assert.equal(ok.choices.length, 1);
  });

  it('a full queue is a 503 with Retry-After', async () => {
    // max-num-seqs 1 and max-waiting 0: one request in flight fills the server. It runs to nearly
    // the whole 512-token context, and both probes go out together, so it is still running when they
    // arrive (stories260K decodes thousands of tokens a second).
    const long = await s.client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 480, ignore_eos: true, stream: true } as any);
    const it = (long as any)[Symbol.asyncIterator]();
    await it.next();
    const [r] = await Promise.all([
      postJson(`${s.url}/v1/completions`, { model: 'stories', prompt: 'hi', max_tokens: 2 }),
      assert.rejects(s.client.completions.create({ model: 'stories', prompt: 'hi', max_tokens: 2 }), (e: any) => e instanceof OpenAI.InternalServerError && e.status === 503 && e.code === 'queue_full'),
    ]);
    assert.equal(r.status, 503);
    assert.equal(r.json.error.code, 'queue_full');
    assert.equal(r.headers.get('retry-after'), '1');
    for (let x = await it.next(); !x.done; x = await it.next()) {
      // drain
    }
  });
});

describe('API key', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer(DEMO, { servedModelName: 'demo', apiKey: 'sekrit' });
  });
  after(() => s.close());

  it('is required on /v1 routes', async () => {
    const wrong = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'guess', maxRetries: 0 });
    await assert.rejects(wrong.models.list(), (e: any) => e instanceof OpenAI.AuthenticationError && e.code === 'invalid_api_key');
    assert.equal((await s.client.models.list()).data[0]!.id, 'demo');
    assert.equal((await fetch(`${s.url}/health`)).status, 200, 'health stays open for probes');
  });
});

describe('client disconnect', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer(DEMO, { servedModelName: 'demo' });
  });
  after(() => s.close());

  it('aborts the request and frees its KV blocks within a step', async () => {
    const controller = new AbortController();
    const r = await fetch(`${s.url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify({ model: 'demo', prompt: 'a long story', max_tokens: 1500, ignore_eos: true, stream: true }),
    });
    const reader = r.body!.getReader();
    await reader.read();
    controller.abort();
    const ctx = await s.server.ready;
    const text = await eventually(async () => {
      const t = await fetch(`${s.url}/metrics`).then((x) => x.text());
      return metricValue(t, 'tsllm:request_success_total', { finished_reason: 'abort' }) === 1 ? t : undefined;
    });
    assert.equal(metricValue(text, 'tsllm:num_requests_running'), 0);
    assert.equal(metricValue(text, 'tsllm:kv_cache_usage_perc'), 0);
    assert.ok(metricValue(text, 'tsllm:generation_tokens_total')! < 1500);
    assert.equal(ctx.engine.stats!.kvCacheUsage, 0);
    assert.equal(ctx.engine.numInFlightSequences, 0);
  });
});
