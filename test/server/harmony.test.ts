// gpt-oss's harmony format, with its real tokenizer and chat template: a reply written the way the
// template renders an assistant turn (analysis, then a call addressed to=functions.NAME, or a final
// answer), detokenized token by token with its special markers kept, splits into reasoning_content,
// content and tool calls; the server picks the harmony parsers from the template and renders calls
// and their results back into harmony messages.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { renderChatTemplate } from '../../src/model/tokenizer/chat-template.js';
import { loadHfTokenizer } from '../../src/model/tokenizer/hf-tokenizer-files.js';
import { IncrementalDetokenizer } from '../../src/model/tokenizer/tokenizer.js';
import { templateMessages } from '../../src/server/chat-render.js';
import type { ChoiceDelta } from '../../src/server/choice-parser.js';
import { HarmonyParser } from '../../src/server/harmony-parser.js';
import { reasoningParserFor } from '../../src/server/reasoning-parser.js';
import { toolCallParserFor } from '../../src/server/tools/tool-call-parsers.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { postJson, startServer, type TestServer } from '../helpers/server.js';
import { tinyChatModel } from '../helpers/tiny-chat-model.js';

const dir = path.join(FIXTURES, 'tokenizers', 'gpt-oss');
const tpl = fs.readFileSync(path.join(dir, 'chat_template.jinja'), 'utf8');
const tok = loadHfTokenizer(dir)!;
const USER = [{ role: 'user', content: 'What is the weather in Paris?' }];

/** What the model writes for this assistant turn: the template's rendering after the generation prompt, up to the EOS marker. */
function reply(turn: object): string {
  const prompt = renderChatTemplate(tpl, USER, { addGenerationPrompt: true });
  const whole = renderChatTemplate(tpl, [...USER, ...templateMessages([turn as never], tpl)], { addGenerationPrompt: false });
  assert.ok(whole.startsWith(prompt.replace(/<\|start\|>assistant$/, '')));
  const text = whole.slice(prompt.length);
  return text.replace(/<\|(call|return|end)\|>$/, '');
}

/** The reply as the engine hands it over: token by token, special markers kept. */
function parse(text: string, toolsEnabled = true) {
  const ids = tok.encode(text, { addSpecialTokens: false });
  const detok = new IncrementalDetokenizer(tok, { skipSpecialTokens: false });
  const p = new HarmonyParser(toolsEnabled);
  const deltas: ChoiceDelta[] = [];
  for (const id of ids) deltas.push(...p.push(detok.push(id)));
  const done = p.finish();
  deltas.push(...done.deltas);
  return {
    reasoning: deltas.map((d) => d.reasoning_content ?? '').join(''),
    content: deltas.map((d) => d.content ?? '').join(''),
    calls: done.calls?.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) })) ?? null,
    tokens: ids.length,
  };
}

describe('harmony replies', () => {
  it('thinking then a tool call, as the template writes them', () => {
    const text = reply({ role: 'assistant', content: null, thinking: 'The user wants the weather.', tool_calls: [{ id: 'c0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] });
    assert.match(text, /to=functions\.get_weather<\|channel\|>commentary json<\|message\|>/);
    const r = parse(text);
    assert.equal(r.reasoning, 'The user wants the weather.');
    assert.equal(r.content, '');
    assert.deepEqual(r.calls, [{ name: 'get_weather', arguments: { city: 'Paris' } }]);
    assert.ok(r.tokens > 10);
  });

  it('thinking then a final answer; the channel-first header gpt-oss writes; text off the format', () => {
    const r = parse(reply({ role: 'assistant', thinking: 'Easy one.', content: 'It is sunny in Paris.' }));
    assert.deepEqual([r.reasoning, r.content, r.calls], ['Easy one.', 'It is sunny in Paris.', null]);
    const channelFirst = parse('<|channel|>analysis<|message|>Need a tool.<|end|><|start|>assistant<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>{"zone":"UTC"}');
    assert.equal(channelFirst.reasoning, 'Need a tool.');
    assert.deepEqual(channelFirst.calls, [{ name: 'get_time', arguments: { zone: 'UTC' } }]);
    assert.deepEqual(parse('Hello there, no markers.'), { reasoning: '', content: 'Hello there, no markers.', calls: null, tokens: parse('Hello there, no markers.').tokens });
    const noTools = parse('<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>{"zone":"UTC"}', false);
    assert.equal(noTools.calls, null);
    assert.equal(noTools.content, '{"zone":"UTC"}');
  });

  it('the template selects the harmony parsers', () => {
    assert.equal(toolCallParserFor(tpl)?.name, 'harmony');
    assert.equal(reasoningParserFor(tpl)?.name, 'harmony');
  });
});

describe('a gpt-oss-templated server', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ model: tinyChatModel('gpt-oss'), kvCacheMemory: 32 << 20 }, { servedModelName: 'g' });
  });
  after(() => s.close());

  // gpt-oss's template prints every tool's description unguarded (transformers fails without one too).
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

  it('renders calls and results back as harmony messages; required is refused for special-token markers', async () => {
    const messages = [
      ...USER,
      { role: 'assistant', content: null, tool_calls: [{ id: 'c0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'c0', content: '21 degrees' },
    ];
    const t = await postJson(`${s.url}/tokenize`, { model: 'g', messages, add_generation_prompt: true });
    assert.equal(t.status, 200);
    const text = tok.decode(t.json.tokens, { skipSpecialTokens: false });
    assert.match(text, /<\|start\|>assistant to=functions\.get_weather<\|channel\|>commentary json<\|message\|>\{"city": ?"Paris"\}<\|call\|>/);
    assert.match(text, /<\|start\|>functions\.get_weather to=assistant<\|channel\|>commentary<\|message\|>"21 degrees"<\|end\|>/);
    assert.ok(text.endsWith('<|start|>assistant'));

    const r = await postJson(`${s.url}/v1/chat/completions`, { model: 'g', messages, tools, max_tokens: 8 });
    assert.equal(r.status, 200);
    const req = await postJson(`${s.url}/v1/chat/completions`, { model: 'g', messages: USER, tools, tool_choice: 'required', max_tokens: 8 });
    assert.equal(req.status, 400);
    assert.match(req.json.error.message, /harmony format, whose markers are special tokens/);
  });
});
