// The Responses API through the official openai client, on the tiny Qwen3-templated model: text the
// same as chat completions gives, the streamed event sequence, function calls and their outputs sent
// back, text.format json_schema, reasoning items, and the 400 for previous_response_id.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { tinyChatModel } from '../helpers/tiny-chat-model.js';

describe('/v1/responses', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ model: tinyChatModel('qwen3'), kvCacheMemory: 32 << 20 }, { servedModelName: 'q' });
  });
  after(() => s.close());

  it('gives the text chat completions gives, as a message item; max_output_tokens makes it incomplete', async () => {
    const r = await s.client.responses.create({ model: 'q', instructions: 'Be brief.', input: 'Hello there', temperature: 0, max_output_tokens: 12 });
    const chat = await s.client.chat.completions.create({ model: 'q', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }], temperature: 0, max_completion_tokens: 12 });
    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp_/);
    assert.equal(r.output_text, chat.choices[0]!.message.content);
    assert.equal(r.status, 'incomplete');
    assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(r.usage!.output_tokens, 12);
    assert.equal(r.usage!.input_tokens, chat.usage!.prompt_tokens);
    const msg = r.output.find((o) => o.type === 'message')!;
    assert.equal(msg.type === 'message' && msg.role, 'assistant');
  });

  it('streams the event sequence; its deltas add up to the same text', async () => {
    const whole = await s.client.responses.create({ model: 'q', input: 'Hello there', temperature: 0, max_output_tokens: 10 });
    const stream = await s.client.responses.create({ model: 'q', input: 'Hello there', temperature: 0, max_output_tokens: 10, stream: true });
    const types: string[] = [];
    let text = '';
    let last = -1;
    let final: any;
    for await (const e of stream) {
      types.push(e.type);
      assert.ok(e.sequence_number > last);
      last = e.sequence_number;
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.incomplete' || e.type === 'response.completed') final = e.response;
    }
    assert.equal(text, whole.output_text);
    const distinct = types.filter((t, i) => t !== types[i - 1]);
    assert.deepEqual(distinct, ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
    assert.equal(final.output[0].content[0].text, whole.output_text);
  });

  it('function tools: a required call comes back as a function_call item, and its output continues the conversation', async () => {
    const tools = [{ type: 'function' as const, name: 'get_time', strict: true, parameters: { type: 'object', properties: { zone: { enum: ['UTC', 'CET'] } }, required: ['zone'], additionalProperties: false } }];
    const r = await s.client.responses.create({ model: 'q', input: 'What time is it?', tools, tool_choice: 'required', parallel_tool_calls: false, temperature: 0, max_output_tokens: 100 });
    assert.equal(r.status, 'completed');
    const call = r.output.find((o) => o.type === 'function_call');
    assert.ok(call && call.type === 'function_call');
    assert.equal(call.name, 'get_time');
    assert.ok(['UTC', 'CET'].includes(JSON.parse(call.arguments).zone));
    assert.match(call.call_id, /^call_/);
    const next = await s.client.responses.create({
      model: 'q', tools, temperature: 0, max_output_tokens: 6,
      input: [{ role: 'user', content: 'What time is it?' }, { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments }, { type: 'function_call_output', call_id: call.call_id, output: '12:00' }],
    });
    assert.ok(next.usage!.input_tokens > r.usage!.input_tokens + 5);
  });

  it('text.format json_schema constrains the output; thinking becomes a reasoning item', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
    const r = await s.client.responses.create({ model: 'q', input: 'Answer in JSON', temperature: 0, max_output_tokens: 30, text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } } });
    assert.equal(typeof JSON.parse(r.output_text).ok, 'boolean');
    const thinking = await s.client.responses.create({ model: 'q', input: 'Think first', temperature: 1, max_output_tokens: 40, structured_outputs: { regex: '<think>\\n[a-z]{3,6}\\n</think>\\n\\n[A-Z][a-z]{2,5}' } } as any);
    assert.deepEqual(thinking.output.map((o) => o.type), ['reasoning', 'message']);
  });

  it('previous_response_id and non-function tools are 400s', async () => {
    await assert.rejects(s.client.responses.create({ model: 'q', input: 'x', previous_response_id: 'resp_123' }), (e: any) => e.status === 400 && e.param === 'previous_response_id');
    await assert.rejects(s.client.responses.create({ model: 'q', input: 'x', tools: [{ type: 'web_search_preview' } as any] }), (e: any) => e.status === 400 && e.param === 'tools');
  });
});
