// /v1/embeddings through the official openai client on a sentence-transformers-style folder (the
// llama-gqa fixture with mean pooling, Normalize and Matryoshka sizes): the vectors equal LLM.embed's
// on the same folder (whose pooling the engine test checks against Hugging Face's numbers), in both
// encodings; dimensions, token-id input, usage, the 400s, and embeddings batched beside generation.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LLM } from '../../src/engine/llm.js';
import { hfPooling } from '../../src/model/pooling-config.js';
import { ModelLoadError } from '../../src/util/errors.js';
import { embeddingModel } from '../helpers/embedding-model.js';
import { maxAbsDiff } from '../helpers/fixtures.js';
import { postJson, startServer, type TestServer } from '../helpers/server.js';

const TEXTS = ['Once upon a time', 'The little dog ran to the park.', 'Lily and Ben were friends. They liked to play with the red ball every day.'];
const norm = (v: ArrayLike<number>) => Math.hypot(...Array.from(v));

describe('/v1/embeddings', () => {
  const dir = embeddingModel({ mode: 'pooling_mode_mean_tokens', normalize: true, matryoshka: [16, 32] });
  let s: TestServer;
  let llm: LLM;
  before(async () => {
    s = await startServer({ model: dir, kvCacheMemory: 16 << 20 }, { servedModelName: 'emb' });
    llm = new LLM({ model: dir, kvCacheMemory: 16 << 20 }, null);
  });
  after(async () => {
    await s.close();
    await llm.close();
  });

  it('gives LLM.embed\'s vectors, in input order, normalized as the model says (base64 and float)', async () => {
    const expected = await llm.embed(TEXTS);
    const r = await s.client.embeddings.create({ model: 'emb', input: TEXTS });
    assert.equal(r.object, 'list');
    assert.equal(r.model, 'emb');
    assert.deepEqual(r.data.map((d) => d.index), [0, 1, 2]);
    r.data.forEach((d, i) => {
      assert.equal(d.embedding.length, 64);
      assert.ok(Math.abs(norm(d.embedding) - 1) < 1e-5);
      assert.ok(maxAbsDiff(d.embedding, expected[i]!.embedding) < 1e-5, TEXTS[i]);
    });
    assert.equal(r.usage.prompt_tokens, expected.reduce((n, e) => n + e.promptTokenIds.length, 0));
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens);

    const float = await postJson(`${s.url}/v1/embeddings`, { model: 'emb', input: TEXTS[0], encoding_format: 'float' });
    assert.equal(float.status, 200);
    assert.ok(Array.isArray(float.json.data[0].embedding));
    assert.ok(maxAbsDiff(float.json.data[0].embedding, expected[0]!.embedding) < 1e-5);
    const b64 = await postJson(`${s.url}/v1/embeddings`, { model: 'emb', input: TEXTS[0], encoding_format: 'base64' });
    const bytes = Buffer.from(b64.json.data[0].embedding, 'base64');
    assert.deepEqual(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)), float.json.data[0].embedding);
  });

  it('token-id input, and Matryoshka dimensions the model was trained for', async () => {
    const [whole] = await llm.embed([TEXTS[1]!]);
    const ids = await s.client.embeddings.create({ model: 'emb', input: whole!.promptTokenIds });
    assert.ok(maxAbsDiff(ids.data[0]!.embedding, whole!.embedding) < 1e-5);
    assert.equal(ids.usage.prompt_tokens, whole!.promptTokenIds.length);

    const cut = await s.client.embeddings.create({ model: 'emb', input: TEXTS[1]!, dimensions: 16 });
    const v = cut.data[0]!.embedding;
    assert.equal(v.length, 16);
    const head = Array.from(whole!.embedding.slice(0, 16));
    assert.ok(maxAbsDiff(v, head.map((x) => x / norm(head))) < 1e-5, 'the cut vector is the first 16 values, normalized again');
  });

  it('bad requests get a 400 naming the field', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ model: 'emb', input: TEXTS[0], dimensions: 8 }, 'dimensions', /trained for \(16, 32\)/],
      [{ model: 'emb', input: '' }, 'input', /./],
      [{ model: 'emb', input: ['a', ''] }, 'input', /./],
      [{ model: 'emb', input: [5, 600] }, 'input', /outside the vocabulary/],
      [{ model: 'emb', input: TEXTS[0], encoding_format: 'hex' }, 'encoding_format', /./],
      [{ model: 'emb' }, 'input', /./],
    ];
    for (const [body, param, message] of cases) {
      const r = await postJson(`${s.url}/v1/embeddings`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.ok(String(r.json.error.param).startsWith(param), JSON.stringify(r.json));
      assert.match(r.json.error.message, message);
    }
    const long = await postJson(`${s.url}/v1/embeddings`, { model: 'emb', input: Array.from({ length: 600 }, (_, i) => 1 + (i % 500)) });
    assert.equal(long.status, 400);
    assert.match(long.json.error.message, /maximum context length is 512/);
    const other = await postJson(`${s.url}/v1/embeddings`, { model: 'other', input: 'x' });
    assert.equal(other.status, 404);
  });

  it('runs beside generation: a completion streams while embeddings are answered', async () => {
    const expected = await llm.embed(TEXTS);
    const gen = s.client.completions.create({ model: 'emb', prompt: TEXTS[2]!, max_tokens: 40, temperature: 0, stream: true });
    const embeds = Promise.all(TEXTS.map((t) => s.client.embeddings.create({ model: 'emb', input: t })));
    let text = 0;
    for await (const c of await gen) text += c.choices[0]!.text.length;
    (await embeds).forEach((r, i) => assert.ok(maxAbsDiff(r.data[0]!.embedding, expected[i]!.embedding) < 1e-5));
    assert.ok(text > 0);
  });

  it('--pooling overrides the model\'s pooling; unsupported sentence-transformers modes fail at load', async () => {
    const cls = new LLM({ model: dir, kvCacheMemory: 16 << 20, pooling: 'cls' }, null);
    try {
      const [a, b] = await cls.embed(TEXTS.slice(0, 2));
      // Both prompts start with BOS: CLS pooling sees the same first token, whatever follows.
      assert.ok(maxAbsDiff(a!.embedding, b!.embedding) < 1e-6);
      assert.ok(maxAbsDiff(a!.embedding, (await llm.embed(TEXTS[0]!))[0]!.embedding) > 1e-3);
    } finally {
      await cls.close();
    }
    const maxDir = embeddingModel({ mode: 'pooling_mode_max_tokens', normalize: false });
    assert.throws(() => hfPooling(maxDir, {}), (e: Error) => e instanceof ModelLoadError && /pooling_mode_max_tokens is not supported/.test(e.message));
  });
});
