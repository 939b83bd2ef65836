// Scoring prompts through /v1/completions on stories260K: echo with logprobs and vLLM's
// prompt_logprobs. The check is the model against itself: rescoring its own greedy continuation as a
// prompt must give back the logprobs it reported while generating, each at rank 1.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postJson, startServer, STORIES, type TestServer } from '../helpers/server.js';

describe('echo with logprobs and prompt_logprobs', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer(STORIES, { servedModelName: 'stories' });
  });
  after(() => s.close());

  const PROMPT = 'Once upon a time, there was a little girl';

  it('echo + logprobs rescores a greedy continuation with the logprobs it was generated with', async () => {
    const gen = await s.client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 8, temperature: 0, logprobs: 2 });
    const tok = await postJson(`${s.url}/tokenize`, { model: 'stories', prompt: PROMPT });
    const promptIds: number[] = tok.json.tokens;
    const genLp = gen.choices[0]!.logprobs!;
    // The continuation's ids (vLLM's return_token_ids).
    const withIds = await postJson(`${s.url}/v1/completions`, { model: 'stories', prompt: PROMPT, max_tokens: 8, temperature: 0, return_token_ids: true });
    assert.deepEqual(withIds.json.choices[0].prompt_token_ids, promptIds);
    assert.equal(withIds.json.choices[0].token_ids.length, 8);
    const ids: number[] = [...promptIds, ...withIds.json.choices[0].token_ids];

    const r = await s.client.completions.create({ model: 'stories', prompt: ids, echo: true, logprobs: 2, max_tokens: 1, temperature: 0 });
    const lp = r.choices[0]!.logprobs!;
    assert.equal(lp.tokens!.length, ids.length + 1);
    assert.equal(lp.token_logprobs![0], null);
    assert.equal(lp.top_logprobs![0], null);
    for (let k = 0; k < 8; k++) {
      const at = promptIds.length + k;
      assert.ok(Math.abs(lp.token_logprobs![at]! - genLp.token_logprobs![k]!) < 1e-3, `token ${k}`);
      assert.deepEqual(Object.keys(lp.top_logprobs![at]!), Object.keys(genLp.top_logprobs![k]!));
    }
    assert.ok(r.choices[0]!.text.startsWith(PROMPT + gen.choices[0]!.text));
    const offsets = lp.text_offset!;
    assert.ok(offsets.every((o, i) => i === 0 || o >= offsets[i - 1]!));
    assert.equal(offsets[ids.length], PROMPT.length + gen.choices[0]!.text.length, 'the generated token starts after the echoed text');

    // Streamed, the first chunk carries the echoed prompt's logprobs; together they equal the whole.
    const stream = await s.client.completions.create({ model: 'stories', prompt: ids, echo: true, logprobs: 2, max_tokens: 3, temperature: 0, stream: true });
    const streamed: (number | null)[] = [];
    for await (const c of stream) streamed.push(...(c.choices[0]!.logprobs?.token_logprobs ?? []));
    assert.equal(streamed.length, ids.length + 3);
    assert.deepEqual(streamed.slice(0, ids.length + 1), lp.token_logprobs);

    // prompt_logprobs (vLLM): null, then per position the prompt token with its rank and the top N.
    const v = await postJson(`${s.url}/v1/completions`, { model: 'stories', prompt: ids, prompt_logprobs: 1, max_tokens: 1, temperature: 0 });
    const pl = v.json.choices[0].prompt_logprobs;
    assert.equal(pl.length, ids.length);
    assert.equal(pl[0], null);
    for (let i = 1; i < ids.length; i++) {
      const e = pl[i][String(ids[i])];
      assert.ok(e, `position ${i} holds the prompt token`);
      assert.ok(Math.abs(e.logprob - lp.token_logprobs![i]!) < 1e-6);
      if (i >= promptIds.length) assert.equal(e.rank, 1, 'a greedy token is the most likely one');
      assert.ok(Object.values(pl[i]).some((x: any) => x.rank === 1));
    }
  });

  it('chat: prompt_logprobs covers the rendered prompt', async () => {
    const r = await postJson(`${s.url}/v1/chat/completions`, { model: 'stories', messages: [{ role: 'user', content: PROMPT }], prompt_logprobs: 0, max_tokens: 2 });
    assert.equal(r.status, 200);
    assert.equal(r.json.prompt_logprobs.length, r.json.usage.prompt_tokens);
    assert.equal(r.json.prompt_logprobs[0], null);
    assert.ok(r.json.prompt_logprobs.slice(1).every((e: object) => Object.keys(e).length === 1));
    const bad = await postJson(`${s.url}/v1/completions`, { model: 'stories', prompt: PROMPT, prompt_logprobs: 21 });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'prompt_logprobs');
  });
});
