// Tool calling and reasoning through the official openai client, on a tiny random model that carries
// Qwen3's real tokenizer and chat template: tool_choice "required" and named (enforced by the grammar,
// so even random weights call a real tool with schema-valid arguments), parallel calls, streamed
// tool_calls deltas, a conversation that sends tool results back, tool_choice "none", and thinking
// returned as reasoning_content.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type OpenAI from 'openai';
import { startServer, type TestServer } from '../helpers/server.js';
import { tinyChatModel } from '../helpers/tiny-chat-model.js';

const ajv = new Ajv2020({ strict: false });

const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather', description: 'Weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 10 }, unit: { enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'], additionalProperties: false },
    },
  },
  {
    type: 'function',
    function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { enum: ['UTC', 'CET', 'JST'] } }, required: ['zone'], additionalProperties: false } },
  },
];

function checkCall(call: { function: { name: string; arguments: string } }) {
  const tool = TOOLS.find((t) => t.type === 'function' && t.function.name === call.function.name);
  assert.ok(tool, `unknown tool ${call.function.name}`);
  const args = JSON.parse(call.function.arguments);
  assert.ok(ajv.validate((tool as { function: { parameters: object } }).function.parameters, args), `${call.function.arguments}: ${ajv.errorsText()}`);
}

describe('tools and reasoning on a Qwen3-templated model', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ model: tinyChatModel('qwen3'), kvCacheMemory: 32 << 20 }, { servedModelName: 'q' });
  });
  after(() => s.close());
  const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];

  it('tool_choice "required": a valid call to a real tool, finish_reason tool_calls', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await s.client.chat.completions.create({ model: 'q', messages, tools: TOOLS, tool_choice: 'required', parallel_tool_calls: false, temperature: 1, seed, max_tokens: 200 });
      const c = r.choices[0]!;
      assert.equal(c.finish_reason, 'tool_calls', JSON.stringify(c.message));
      assert.equal(c.message.tool_calls!.length, 1);
      const call = c.message.tool_calls![0]!;
      assert.equal(call.type, 'function');
      assert.match(call.id, /^call_/);
      checkCall(call as { function: { name: string; arguments: string } });
      assert.equal(c.message.content, null);
    }
  });

  it('a named tool_choice calls that tool; parallel calls under "required" are each valid', async () => {
    const named = await s.client.chat.completions.create({ model: 'q', messages, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_time' } }, temperature: 0, max_tokens: 200 });
    assert.equal(named.choices[0]!.message.tool_calls![0]!.type === 'function' && named.choices[0]!.message.tool_calls![0]!.function.name, 'get_time');
    // Seeded sampling, so the same draw every run: this one makes two calls before it stops.
    const parallel = await s.client.chat.completions.create({ model: 'q', messages, tools: TOOLS, tool_choice: 'required', temperature: 1, seed: 3, max_tokens: 600 });
    assert.equal(parallel.choices[0]!.finish_reason, 'tool_calls');
    const calls = parallel.choices[0]!.message.tool_calls!;
    assert.ok(calls.length >= 2, `${calls.length} calls`);
    for (const c of calls) checkCall(c as { function: { name: string; arguments: string } });
  });

  it('streams the call as tool_calls deltas that add up to the non-streamed call', async () => {
    const params = { model: 'q', messages, tools: TOOLS, tool_choice: 'required' as const, parallel_tool_calls: false, temperature: 0, max_tokens: 200 };
    const whole = await s.client.chat.completions.create(params);
    const stream = await s.client.chat.completions.create({ ...params, stream: true });
    const acc: { name: string; args: string; id?: string }[] = [];
    let finish: string | null = null;
    let content = '';
    for await (const chunk of stream) {
      const ch = chunk.choices[0];
      if (!ch) continue;
      content += ch.delta.content ?? '';
      for (const t of ch.delta.tool_calls ?? []) {
        acc[t.index] ??= { name: '', args: '' };
        acc[t.index]!.name += t.function?.name ?? '';
        acc[t.index]!.args += t.function?.arguments ?? '';
        if (t.id) acc[t.index]!.id = t.id;
      }
      finish = ch.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(content, '');
    const w = whole.choices[0]!.message.tool_calls![0]! as { function: { name: string; arguments: string } };
    assert.deepEqual(acc.map((a) => ({ name: a.name, args: a.args })), [{ name: w.function.name, args: w.function.arguments }]);
    assert.match(acc[0]!.id!, /^call_/);
  });

  it('a conversation with the call and its result renders and continues; tool_choice "none" gives text', async () => {
    const first = await s.client.chat.completions.create({ model: 'q', messages, tools: TOOLS, tool_choice: 'required', parallel_tool_calls: false, temperature: 0, max_tokens: 200 });
    const call = first.choices[0]!.message.tool_calls![0]!;
    const followUp = await s.client.chat.completions.create({
      model: 'q', tools: TOOLS, temperature: 0, max_tokens: 8, tool_choice: 'none',
      messages: [...messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '{"temp": 21}' }],
    });
    assert.equal(followUp.choices[0]!.message.tool_calls, undefined);
    assert.equal(typeof followUp.choices[0]!.message.content, 'string');
    assert.ok(followUp.usage!.prompt_tokens > first.usage!.prompt_tokens + 10, 'the call and its result are in the prompt');
  });

  it('bad tool requests are 400s naming the field', async () => {
    await assert.rejects(s.client.chat.completions.create({ model: 'q', messages, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } }), (e: any) => e.status === 400 && e.param === 'tool_choice');
    await assert.rejects(s.client.chat.completions.create({ model: 'q', messages, tool_choice: 'required' }), (e: any) => e.status === 400 && e.param === 'tool_choice');
    await assert.rejects(s.client.chat.completions.create({ model: 'q', messages, tools: [{ type: 'function', function: {} } as any] }), (e: any) => e.status === 400);
  });

  it('thinking comes back as reasoning_content, apart from content, streamed or not', async () => {
    // The grammar makes the random model think, as a trained Qwen3 would.
    const body = { model: 'q', messages, temperature: 1, seed: 5, max_tokens: 60, structured_outputs: { regex: '<think>\\n[a-z]{3,8}\\n</think>\\n\\n[A-Z][a-z]{2,8}' } } as any;
    const r = await s.client.chat.completions.create(body) as any;
    const m = r.choices[0].message;
    assert.match(m.reasoning_content, /^\n[a-z]{3,8}\n$/);
    assert.match(m.content, /^[A-Z][a-z]{2,8}$/);
    const stream = await s.client.chat.completions.create({ ...body, stream: true }) as any;
    let reasoning = '', content = '';
    for await (const c of stream) {
      reasoning += c.choices[0]?.delta?.reasoning_content ?? '';
      content += c.choices[0]?.delta?.content ?? '';
    }
    assert.equal(reasoning, m.reasoning_content);
    assert.equal(content, m.content);
  });
});
