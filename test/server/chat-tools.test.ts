// A chat request's `tools` reach the chat template (as transformers' apply_chat_template passes
// them): Qwen3's template renders the tools_user golden from the request body alone.

import assert from 'node:assert/strict';
import path from 'node:path';
import { it } from 'node:test';
import { loadHfTokenizer } from '../../src/model/tokenizer/hf-tokenizer-files.js';
import { chatTemplateKwargs, renderChat } from '../../src/server/chat-render.js';
import { chatRequestSchema } from '../../src/server/openai-schemas.js';
import type { ServerContext } from '../../src/server/server-context.js';
import { FIXTURES, readJson } from '../helpers/fixtures.js';

const dir = path.join(FIXTURES, 'tokenizers', 'qwen3');

it("passes the request's tools to the chat template", () => {
  const golden = readJson(path.join(dir, 'golden.json'));
  const c = golden.chat_templates.cases.find((x: { conversation: string }) => x.conversation === 'tools_user');
  const ctx = { tokenizer: loadHfTokenizer(dir) } as unknown as ServerContext;
  const body = chatRequestSchema.parse({ model: 'm', messages: c.messages, tools: c.tools });
  assert.deepEqual(renderChat(ctx, body.messages, true, chatTemplateKwargs(body)), c.rendered_ids);
  // Without them the prompt is another one.
  const plain = chatRequestSchema.parse({ model: 'm', messages: c.messages });
  assert.notDeepEqual(renderChat(ctx, plain.messages, true, chatTemplateKwargs(plain)), c.rendered_ids);
});

it('refuses a malformed tool', () => {
  assert.throws(() => chatRequestSchema.parse({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: {} }] }));
});
