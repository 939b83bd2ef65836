// Structured outputs through the official openai client: response_format json_schema on twenty
// schemas (each output parsed and validated by ajv), json_object, vLLM's structured_outputs (choice,
// regex, grammar), streaming, n > 1, the 400s for a bad schema or two constraints at once, and the
// rule that the mask never overrides the model's own choice when that choice is legal.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { JSON_SCHEMAS } from '../helpers/json-schemas.js';
import { DEMO, STORIES, metricValue, startServer, type TestServer } from '../helpers/server.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ strict: false }));

describe('structured outputs on the random-weight demo model', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ ...DEMO, kvCacheMemory: 16 << 20 }, { servedModelName: 'demo' });
  });
  after(() => s.close());

  const messages = [{ role: 'user' as const, content: 'Answer in JSON' }];

  for (const temperature of [0, 1]) {
    it(`json_schema at temperature ${temperature}: all twenty outputs parse and validate`, async () => {
      const names = Object.keys(JSON_SCHEMAS);
      const replies = await Promise.all(names.map((name) => s.client.chat.completions.create({
        model: 'demo', messages, temperature, seed: 7, max_tokens: 400,
        response_format: { type: 'json_schema', json_schema: { name, schema: JSON_SCHEMAS[name]!, strict: true } },
      })));
      replies.forEach((r, i) => {
        const text = r.choices[0]!.message.content!;
        assert.equal(r.choices[0]!.finish_reason, 'stop', `${names[i]}: ${text}`);
        assert.ok(ajv.validate(JSON_SCHEMAS[names[i]!]!, JSON.parse(text)), `${names[i]}: ${text}: ${ajv.errorsText()}`);
      });
    });
  }

  it('json_object gives a JSON object; streamed chunks add up to the same constrained text', async () => {
    const r = await s.client.chat.completions.create({ model: 'demo', messages, temperature: 0, max_tokens: 200, response_format: { type: 'json_object' } });
    const text = r.choices[0]!.message.content!;
    if (r.choices[0]!.finish_reason === 'stop') assert.equal(typeof JSON.parse(text), 'object');
    else assert.match(text, /^\{/);
    const stream = await s.client.chat.completions.create({ model: 'demo', messages, temperature: 0, max_tokens: 200, response_format: { type: 'json_object' }, stream: true });
    let streamed = '';
    for await (const c of stream) streamed += c.choices[0]?.delta?.content ?? '';
    assert.equal(streamed, text);
  });

  it('structured_outputs choice, regex and grammar (vLLM fields) on both routes, with n > 1', async () => {
    const choice = await s.client.chat.completions.create({ model: 'demo', messages, temperature: 1, seed: 3, n: 6, max_tokens: 20, structured_outputs: { choice: ['red', 'green', 'blue'] } } as any);
    assert.equal(choice.choices.length, 6);
    for (const c of choice.choices) assert.ok(['red', 'green', 'blue'].includes(c.message.content!), c.message.content!);
    const regex = await s.client.completions.create({ model: 'demo', prompt: 'Date:', temperature: 1, seed: 3, n: 3, max_tokens: 20, structured_outputs: { regex: '20[0-9]{2}-(0[1-9]|1[0-2])-[0-3][0-9]' } } as any);
    for (const c of regex.choices) assert.match(c.text, /^20\d\d-(0[1-9]|1[0-2])-[0-3]\d$/);
    const grammar = 'root ::= "(" expr ")"\nexpr ::= [0-9] (("+" | "*") [0-9])?';
    const g = await s.client.completions.create({ model: 'demo', prompt: 'Sum:', temperature: 1, seed: 4, max_tokens: 20, structured_outputs: { grammar } } as any);
    assert.match(g.choices[0]!.text, /^\([0-9]([+*][0-9])?\)$/);
    const guided = await s.client.completions.create({ model: 'demo', prompt: 'Yes?', temperature: 0, max_tokens: 8, guided_choice: ['yes', 'no'] } as any);
    assert.ok(['yes', 'no'].includes(guided.choices[0]!.text));
  });

  it('a schema that cannot be met within max_tokens ends with finish_reason length', async () => {
    const r = await s.client.chat.completions.create({
      model: 'demo', messages, temperature: 0, max_tokens: 5,
      response_format: { type: 'json_schema', json_schema: { name: 'long', schema: { type: 'object', properties: { text: { type: 'string', minLength: 50, maxLength: 60 } }, required: ['text'] } } },
    });
    assert.equal(r.choices[0]!.finish_reason, 'length');
    assert.throws(() => JSON.parse(r.choices[0]!.message.content!));
  });

  it('a bad schema or grammar, or two constraints at once, is a 400 naming the field', async () => {
    await assert.rejects(
      s.client.chat.completions.create({ model: 'demo', messages, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'nonsense' } } } }),
      (e: any) => e.status === 400 && e.param === 'response_format.json_schema.schema' && /Unsupported type "nonsense"/.test(e.message),
    );
    await assert.rejects(
      s.client.completions.create({ model: 'demo', prompt: 'x', structured_outputs: { grammar: 'root ::= (' } } as any),
      (e: any) => e.status === 400 && e.param === 'structured_outputs.grammar' && /EBNF parser error/.test(e.message),
    );
    await assert.rejects(
      s.client.chat.completions.create({ model: 'demo', messages, response_format: { type: 'json_object' }, structured_outputs: { regex: 'a' } } as any),
      (e: any) => e.status === 400 && /one output constraint/.test(e.message),
    );
    await assert.rejects(
      s.client.completions.create({ model: 'demo', prompt: 'x', structured_outputs: { regex: 'a', choice: ['b'] } } as any),
      (e: any) => e.status === 400 && e.param === 'structured_outputs',
    );
    // The server is fine afterwards, and compiled grammars are reused.
    const ok = await s.client.completions.create({ model: 'demo', prompt: 'x', max_tokens: 4, temperature: 0, structured_outputs: { choice: ['fine'] } } as any);
    assert.equal(ok.choices[0]!.text, 'fine');
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.ok((metricValue(text, 'tsllm:request_success_total', { finished_reason: 'stop' }) ?? 0) >= 1);
  });
});

describe('structured outputs on stories260K', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ ...STORIES, kvCacheDtype: 'f32' }, { servedModelName: 'stories' });
  });
  after(() => s.close());

  it('the mask never overrides the model\'s own greedy choice when it is legal', async () => {
    const free = await s.client.completions.create({ model: 'stories', prompt: 'Once upon a time', temperature: 0, max_tokens: 16 });
    const text = free.choices[0]!.text;
    assert.match(text, /^, there was a little girl named Lily\. /);
    // A regex the free text satisfies, with alternatives the model did not take at every turn.
    const pattern = ', there (is|was) an? (little|big) (boy|girl) named [A-Z][a-z]+\\. [^\\n]*';
    const constrained = await s.client.completions.create({ model: 'stories', prompt: 'Once upon a time', temperature: 0, max_tokens: 16, structured_outputs: { regex: pattern } } as any);
    assert.equal(constrained.choices[0]!.text, text);
    // And where the model's choice is illegal, the grammar decides.
    const forced = await s.client.completions.create({ model: 'stories', prompt: 'Once upon a time', temperature: 0, max_tokens: 16, structured_outputs: { regex: ', there was a big dog named (Max|Spot)\\.' } } as any);
    assert.match(forced.choices[0]!.text, /^, there was a big dog named (Max|Spot)\.$/);
    assert.equal(forced.choices[0]!.finish_reason, 'stop');
  });
});
