// The OpenAI-compatible API through the official openai client: completions and chat, streamed and
// not, usage, n > 1, logprobs, stop strings, seeds, and the same tokens as generating offline.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TextGenerator } from '../helpers/text-generator.js';
import { makeSamplingParams } from '../../src/engine/sampling/sampling-params.js';
import { loadStories } from '../helpers/models.js';
import { DEMO, STORIES, startServer, type TestServer } from '../helpers/server.js';

describe('completions on stories260K', () => {
  let s: TestServer;
  let gen: TextGenerator;
  let model: string;
  before(async () => {
    // f32 KV on both sides: the server's native kernels and the offline reference kernels then agree to
    // float32 rounding, where an f16 cache could round their K/V to neighbouring halves and flip a draw.
    s = await startServer({ ...STORIES, kvCacheDtype: 'f32' }, { servedModelName: 'stories' });
    model = 'stories';
    const st = await loadStories();
    gen = new TextGenerator(st.model, st.tokenizer, { kvCacheDtype: 'f32' });
  });
  after(() => s.close());

  const offline = (prompt: string, params: Parameters<typeof makeSamplingParams>[0], i = 0) =>
    gen.complete(gen.tokenizer!.encode(prompt), makeSamplingParams(params), i);

  it('greedy text and usage equal offline generation', async () => {
    const r = await s.client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 24, temperature: 0 });
    const expected = offline('Once upon a time', { temperature: 0, maxTokens: 24 });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0]!.text, expected.text);
    assert.equal(r.choices[0]!.finish_reason, expected.finishReason);
    assert.deepEqual(r.usage, { prompt_tokens: gen.tokenizer!.encode('Once upon a time').length, completion_tokens: expected.tokenIds.length, total_tokens: gen.tokenizer!.encode('Once upon a time').length + expected.tokenIds.length });
  });

  it('streams chunks that add up to the same text, then usage, then [DONE]', async () => {
    const stream = await s.client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage;
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        text += ch.text;
        finish = ch.finish_reason ?? finish;
      }
    }
    const expected = offline('Once upon a time', { temperature: 0, maxTokens: 24 });
    assert.ok(chunks > 2);
    assert.equal(text, expected.text);
    assert.equal(finish, 'length');
    assert.equal(usage!.completion_tokens, expected.tokenIds.length);
  });

  it('n > 1 with a seed: distinct choices, each equal to offline sampling with seed + index', async () => {
    const params = { temperature: 1, top_k: 40, seed: 5, max_tokens: 20, n: 3 };
    const r = await s.client.completions.create({ model, prompt: 'The cat', ...params });
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
    r.choices.forEach((c, i) => assert.equal(c.text, offline('The cat', { temperature: 1, topK: 40, seed: 5, maxTokens: 20 }, i).text));
    assert.notEqual(r.choices[0]!.text, r.choices[1]!.text);
    const again = await s.client.completions.create({ model, prompt: 'The cat', ...params });
    assert.deepEqual(again.choices.map((c) => c.text), r.choices.map((c) => c.text));
  });

  it('a batch of prompts gives prompt x n choices in order', async () => {
    const r = await s.client.completions.create({ model, prompt: ['Once upon a time', 'The dog'], max_tokens: 8, temperature: 0, n: 2 });
    assert.equal(r.choices.length, 4);
    const first = offline('Once upon a time', { temperature: 0, maxTokens: 8 }).text;
    const second = offline('The dog', { temperature: 0, maxTokens: 8 }).text;
    assert.deepEqual(r.choices.map((c) => c.text), [first, first, second, second]);
  });

  it('logprobs: the chosen token and the top alternatives, matching offline', async () => {
    const r = await s.client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0, logprobs: 3 });
    const lp = r.choices[0]!.logprobs!;
    const expected = offline('Once upon a time', { temperature: 0, maxTokens: 6, logprobs: 3 });
    assert.equal(lp.tokens!.length, 6);
    // The server's native matmul sums each output in one FMA chain over k, the reference in float64:
    // float32 rounding apart, 10x inside the 1e-4 the goldens allow.
    lp.token_logprobs!.forEach((v, i) => assert.ok(Math.abs(v - expected.logprobs![i]!.logprob) < 1e-5, `${v} vs ${expected.logprobs![i]!.logprob}`));
    assert.equal(Object.keys(lp.top_logprobs![0]!).length, 3);
    assert.equal(lp.tokens!.join(''), r.choices[0]!.text);
  });

  it('stop strings end the text before them with finish_reason stop', async () => {
    const full = offline('Once upon a time', { temperature: 0, maxTokens: 40 }).text;
    const stop = full.slice(10, 14);
    const r = await s.client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 40, temperature: 0, stop: [stop] });
    assert.equal(r.choices[0]!.text, full.slice(0, full.indexOf(stop)));
    assert.equal(r.choices[0]!.finish_reason, 'stop');
  });

  it('token-id prompts and /tokenize, /detokenize agree with the tokenizer', async () => {
    const ids = gen.tokenizer!.encode('Once upon a time');
    const t = await fetch(`${s.url}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Once upon a time' }) }).then((r) => r.json());
    assert.deepEqual(t.tokens, ids);
    assert.equal(t.count, ids.length);
    const d = await fetch(`${s.url}/detokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tokens: ids }) }).then((r) => r.json());
    assert.equal(d.prompt, gen.tokenizer!.decode(ids));
    const r = await s.client.completions.create({ model, prompt: ids, max_tokens: 10, temperature: 0 });
    assert.equal(r.choices[0]!.text, offline('Once upon a time', { temperature: 0, maxTokens: 10 }).text);
  });

  it('logit_bias: +100 forces a token, -100 bans the greedy one; metadata, store and service_tier are accepted', async () => {
    const free = await s.client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
    const greedyFirst = offline('Once upon a time', { temperature: 0, maxTokens: 1 }).tokenIds[0]!;
    const forced = await s.client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 3, temperature: 0, logit_bias: { '300': 100 }, metadata: { run: 'x' }, store: false, service_tier: 'auto' } as any);
    const forcedOffline = offline('Once upon a time', { temperature: 0, maxTokens: 3, logitBias: [[300, 100]] });
    assert.deepEqual(forcedOffline.tokenIds, [300, 300, 300]);
    assert.equal(forced.choices[0]!.text, forcedOffline.text);
    const banned = await s.client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0, logit_bias: { [String(greedyFirst)]: -100 } });
    assert.notEqual(banned.choices[0]!.text, free.choices[0]!.text);
    const expected = offline('Once upon a time', { temperature: 0, maxTokens: 6, logitBias: [[greedyFirst, -100]] });
    assert.equal(banned.choices[0]!.text, expected.text);
    await assert.rejects(s.client.completions.create({ model, prompt: 'x', logit_bias: { '99999': 5 } }), (e: any) => e.status === 400 && e.param === 'logit_bias');
  });

  it('models, version and health', async () => {
    const models = await s.client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['stories']);
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    assert.match((await fetch(`${s.url}/version`).then((r) => r.json())).version, /^\d+\.\d+\.\d+$/);
  });
});

describe('chat completions on the demo model', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer(DEMO, { servedModelName: 'demo' });
  });
  after(() => s.close());
  const messages = [{ role: 'system' as const, content: 'be brief' }, { role: 'user' as const, content: 'hello there' }];

  it('renders the chat template, answers as the assistant, and counts usage', async () => {
    const tok = await fetch(`${s.url}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages }) }).then((r) => r.json());
    const r = await s.client.chat.completions.create({ model: 'demo', messages, max_completion_tokens: 7, temperature: 0, ignore_eos: true } as any);
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0]!.message.role, 'assistant');
    assert.equal(r.choices[0]!.finish_reason, 'length');
    assert.equal(r.usage!.prompt_tokens, tok.count);
    assert.equal(r.usage!.completion_tokens, 7);
    // The demo template, byte-tokenized one token per byte; chat prompts get no extra BOS (the template decides).
    assert.equal(tok.count, Buffer.byteLength('system: be brief\nuser: hello there\nassistant: '));
  });

  it('streams a role chunk, content, a finish chunk per choice, and usage; the text equals the non-streamed one', async () => {
    const params = { model: 'demo', messages, max_tokens: 6, temperature: 0.8, seed: 3, n: 2, ignore_eos: true } as any;
    const whole = await s.client.chat.completions.create(params);
    const stream = await s.client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    const text = ['', ''];
    const roles: string[] = [];
    const finishes: string[] = [];
    let usage;
    for await (const c of stream as any) {
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        if (ch.delta.role) roles.push(ch.delta.role);
        text[ch.index] += ch.delta.content ?? '';
        if (ch.finish_reason) finishes.push(ch.finish_reason);
      }
    }
    assert.deepEqual(roles, ['assistant', 'assistant']);
    assert.deepEqual(finishes, ['length', 'length']);
    assert.deepEqual(text, (whole as any).choices.map((c: any) => c.message.content));
    assert.equal(usage.completion_tokens, 12);
  });

  it('logprobs with top_logprobs', async () => {
    const r = await s.client.chat.completions.create({ model: 'demo', messages, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 2, ignore_eos: true } as any);
    const content = r.choices[0]!.logprobs!.content!;
    assert.equal(content.length, 4);
    for (const t of content) {
      assert.equal(t.top_logprobs.length, 2);
      assert.ok(t.logprob <= 0 && t.top_logprobs[0]!.logprob >= t.top_logprobs[1]!.logprob);
      assert.ok(t.logprob <= t.top_logprobs[0]!.logprob + 1e-9);
    }
  });
});
