// Four real Hub chat templates, rendered exactly as transformers' apply_chat_template did.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { renderChatTemplate, type ChatMessage } from '../../src/model/tokenizer/chat-template.js';
import { UsageError } from '../../src/util/errors.js';
import { FIXTURES, readJson } from '../helpers/fixtures.js';

const dir = path.join(FIXTURES, 'tokenizers', 'chat-templates');
const golden = readJson<{ cases: { template: string; conversation: string; messages: ChatMessage[]; add_generation_prompt: boolean; template_kwargs: Record<string, string | null>; rendered: string }[] }>(path.join(dir, 'golden.json'));

it('renders every golden conversation byte for byte', () => {
  assert.equal(golden.cases.length, 20);
  for (const c of golden.cases) {
    const { bos_token, eos_token, ...kwargs } = c.template_kwargs;
    const out = renderChatTemplate(fs.readFileSync(path.join(dir, c.template), 'utf8'), c.messages, {
      addGenerationPrompt: c.add_generation_prompt, bosToken: bos_token, eosToken: eos_token, kwargs,
    });
    assert.equal(out, c.rendered, `${c.template} / ${c.conversation}`);
  }
});

it('turns a template error into a UsageError', () => {
  const tpl = "{{ raise_exception('Conversation roles must alternate') }}";
  assert.throws(() => renderChatTemplate(tpl, [{ role: 'user', content: 'x' }]), (e) => e instanceof UsageError && /alternate/.test(e.message));
});
