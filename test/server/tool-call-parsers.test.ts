// Tool-call formats against the real chat templates that write them: an assistant turn with calls,
// rendered by Qwen3's template (Hermes tags) or DeepSeek-V3's (its tool tokens), parses back into the
// same calls; Llama 3 JSON and Mistral from their documented forms; the parser is chosen from the
// template. Streaming a reply one character at a time splits it exactly as the whole reply does.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { renderChatTemplate } from '../../src/model/tokenizer/chat-template.js';
import { pickChatTemplate } from '../../src/model/tokenizer/chat-template.js';
import { ChoiceParser, type ChoiceDelta } from '../../src/server/choice-parser.js';
import { templateMessages } from '../../src/server/chat-render.js';
import { reasoningParserFor } from '../../src/server/reasoning-parser.js';
import { TOOL_CALL_PARSERS, toolCallParserFor, type ToolCallParser } from '../../src/server/tools/tool-call-parsers.js';
import { FIXTURES } from '../helpers/fixtures.js';

function template(name: string): string {
  const dir = path.join(FIXTURES, 'tokenizers', name);
  const jinja = path.join(dir, 'chat_template.jinja');
  if (fs.existsSync(jinja)) return fs.readFileSync(jinja, 'utf8');
  return pickChatTemplate(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')).chat_template)!;
}

const CALLS = [
  { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
  { name: 'get_time', arguments: '{"zone":"Europe/Paris"}' },
];

/** The assistant's part of a conversation rendered with and without its tool calls. */
function renderedCalls(tpl: string): string {
  const user = [{ role: 'user', content: 'Weather and time in Paris?' }];
  const toolCalls = CALLS.map((c, i) => ({ id: `call_${i}`, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  // As the server passes them: an OpenAI client sends the calling turn's content as null.
  const turn = templateMessages([{ role: 'assistant', content: null, tool_calls: toolCalls as never }], tpl);
  const withCalls = renderChatTemplate(tpl, [...user, ...turn], { addGenerationPrompt: false });
  const prompt = renderChatTemplate(tpl, user, { addGenerationPrompt: true });
  assert.ok(withCalls.startsWith(prompt), 'the template renders the turn after its generation prompt');
  return withCalls.slice(prompt.length);
}

const byName = (n: string) => TOOL_CALL_PARSERS.find((p) => p.name === n)!;
const normalize = (calls: { name: string; arguments: string }[] | null) => calls?.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) }));

describe('tool-call formats', () => {
  for (const [tokenizer, parser] of [['qwen3', 'hermes'], ['deepseek-v3', 'deepseek_v3']] as const) {
    it(`${tokenizer}'s template writes calls that the ${parser} parser reads back`, () => {
      const tpl = template(tokenizer);
      assert.equal(toolCallParserFor(tpl)?.name, parser);
      const reply = renderedCalls(tpl);
      const p = byName(parser);
      const at = p.callStart(reply);
      assert.ok(at >= 0, reply);
      assert.deepEqual(normalize(p.parse(reply.slice(at))), normalize(CALLS));
    });
  }

  it('Llama 3 JSON (with and without <|python_tag|>, calls joined by ;) and both Mistral forms', () => {
    const llama = byName('llama3_json');
    for (const text of ['{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}; {"name": "get_time", "parameters": {"zone": "Europe/Paris"}}',
      '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}};{"name": "get_time", "parameters": {"zone": "Europe/Paris"}}']) {
      assert.equal(llama.callStart(text), 0);
      assert.deepEqual(normalize(llama.parse(text)), normalize(CALLS));
    }
    assert.equal(llama.callStart('The weather is {unknown}'), -1);
    const mistral = byName('mistral');
    assert.deepEqual(normalize(mistral.parse('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}, {"name": "get_time", "arguments": {"zone": "Europe/Paris"}}]')), normalize(CALLS));
    assert.deepEqual(normalize(mistral.parse('[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "unit": "celsius"}[TOOL_CALLS]get_time[ARGS]{"zone": "Europe/Paris"}')), normalize(CALLS));
    assert.equal(byName('hermes').parse('<tool_call>\n{"name": "x", "arguments": {oops}}\n</tool_call>'), null);
    // max_tokens cut the second call: the whole first one stands; a cut first call is no call.
    const cut = '<tool_call>\n{"name": "get_time", "arguments": {"zone": "UTC"}}\n</tool_call>\n<tool_call>\n{"name": "get_wea';
    assert.deepEqual(byName('hermes').parse(cut), [{ name: 'get_time', arguments: '{"zone":"UTC"}' }]);
    assert.equal(byName('hermes').parse('<tool_call>\n{"name": "get_wea'), null);
    assert.equal(byName('hermes').parse('<tool_call>\n{"name": "x", "arguments": {oops}}\n</tool_call>\n<tool_call>\n{"name": "y", "arguments": {}}\n</tool_call>'), null);
  });

  it('templates without a tool-call format get no parser; gpt-oss and Qwen3 are detected as reasoning models where they mark it', () => {
    assert.equal(toolCallParserFor(template('llama3')), null);
    assert.equal(reasoningParserFor(template('qwen3'))?.name, 'think');
    assert.equal(reasoningParserFor(template('llama3')), null);
    assert.equal(reasoningParserFor(template('qwen3'), 'none'), null);
  });
});

function split(parser: ToolCallParser | null, reply: string, chunk: number, opens = false) {
  const p = new ChoiceParser(parser, reasoningParserFor(null, 'think'), opens);
  const deltas: ChoiceDelta[] = [];
  for (let i = 0; i < reply.length; i += chunk) deltas.push(...p.push(reply.slice(i, i + chunk)));
  const done = p.finish();
  deltas.push(...done.deltas);
  return {
    content: deltas.map((d) => d.content ?? '').join(''),
    reasoning: deltas.map((d) => d.reasoning_content ?? '').join(''),
    calls: normalize(done.calls),
    leaked: deltas.some((d) => /<\/?think|<tool_c/.test(d.content ?? '') || /<\/?think/.test(d.reasoning_content ?? '')),
  };
}

describe('a reply split into reasoning, content and calls as it streams', () => {
  const hermes = byName('hermes');
  const reply = '<think>\nThe user wants weather.\n</think>\n\nLet me check.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
  it('whole or one character at a time, the same split, no marker leaking', () => {
    const whole = split(hermes, reply, reply.length);
    assert.deepEqual(whole, { content: 'Let me check.', reasoning: '\nThe user wants weather.\n', calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }], leaked: false });
    for (const chunk of [1, 2, 3, 7]) assert.deepEqual(split(hermes, reply, chunk), whole, `chunks of ${chunk}`);
  });

  it('a prompt that opened the thinking block (DeepSeek-R1) starts in reasoning; text that only looks like a call stays content', () => {
    assert.deepEqual(split(null, 'hmm, 2 + 2</think>4', 1, true), { content: '4', reasoning: 'hmm, 2 + 2', calls: undefined, leaked: false });
    assert.deepEqual(split(hermes, 'Use <tool_call> tags like <tool_c', 1), { content: 'Use <tool_call> tags like <tool_c', reasoning: '', calls: undefined, leaked: true });
    const llama = split(byName('llama3_json'), '  {"name": "get_time", "parameters": {}}', 1);
    assert.deepEqual(llama.calls, [{ name: 'get_time', arguments: {} }]);
    assert.equal(llama.content, '', 'blanks before a call are not content');
  });
});
