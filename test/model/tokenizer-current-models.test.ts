// The real tokenizers and chat templates of five current models (llama3, qwen3, gemma3, deepseek-v3,
// gpt-oss) against the Rust tokenizers library and transformers' apply_chat_template (fixture README
// section 3d): every encode, decode, streamed decode, llama.cpp vector and template render.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { renderChatTemplate, type ChatMessage } from '../../src/model/tokenizer/chat-template.js';
import { loadHfTokenizer } from '../../src/model/tokenizer/hf-tokenizer-files.js';
import { IncrementalDetokenizer } from '../../src/model/tokenizer/tokenizer.js';
import { FIXTURES, readJson } from '../helpers/fixtures.js';

interface Case {
  text: string;
  ids: number[];
  ids_with_special_tokens: number[];
  ids_with_special_tokens_per_config?: number[];
  decode: string;
  decode_skip_special_tokens: string;
  decode_of_ids_with_special_tokens: string;
}
interface StreamMode { text_after_token: string[]; decode: string }
interface TemplateCase {
  template: string; conversation: string; messages: ChatMessage[]; tools: unknown[] | null;
  add_generation_prompt: boolean; template_kwargs: Record<string, unknown>; rendered?: string; rendered_ids?: number[];
  error?: { type: string; message: string };
}
interface Golden {
  cases: Case[];
  streaming: { cases: { text: string; ids: number[]; with_special_tokens: StreamMode; skip_special_tokens: StreamMode }[] };
  llama_cpp_test_vectors: { applicable: Record<string, { cases: { text: string; llama_cpp_expected_ids: number[] }[] }> };
  chat_templates: { templates: Record<string, { source: string }>; cases: TemplateCase[] };
}

// The goldens pin strftime_now to this day.
const PINNED_DATE = new Date(2024, 6, 26);

for (const name of ['llama3', 'qwen3', 'gemma3', 'deepseek-v3', 'gpt-oss']) {
  describe(`tokenizer ${name}`, () => {
    const dir = path.join(FIXTURES, 'tokenizers', name);
    const tok = loadHfTokenizer(dir)!;
    const golden = readJson<Golden>(path.join(dir, 'golden.json'));

    it('encodes all 120 strings, without and with special tokens', () => {
      assert.equal(golden.cases.length, 120);
      for (const c of golden.cases) {
        assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids, JSON.stringify(c.text));
        // DeepSeek-V3: add_bos_token in the config wins over tokenizer.json's post-processor, as in
        // transformers' LlamaTokenizerFast (what vLLM tokenizes with).
        assert.deepEqual(tok.encode(c.text), c.ids_with_special_tokens_per_config ?? c.ids_with_special_tokens, JSON.stringify(c.text));
      }
    });

    it('decodes with and without special tokens', () => {
      for (const c of golden.cases) {
        assert.equal(tok.decode(c.ids), c.decode, JSON.stringify(c.text));
        assert.equal(tok.decode(c.ids, { skipSpecialTokens: true }), c.decode_skip_special_tokens, JSON.stringify(c.text));
        assert.equal(tok.decode(c.ids_with_special_tokens), c.decode_of_ids_with_special_tokens, JSON.stringify(c.text));
      }
    });

    it('streams each whole character as soon as its last byte arrives', () => {
      for (const s of golden.streaming.cases) {
        for (const [mode, skip] of [['with_special_tokens', false], ['skip_special_tokens', true]] as const) {
          const d = new IncrementalDetokenizer(tok, { skipSpecialTokens: skip, startOfText: true });
          let text = '';
          const after = s.ids.map((id) => (text += d.push(id)));
          assert.deepEqual(after, s[mode].text_after_token, `${JSON.stringify(s.text)} ${mode}`);
          assert.equal(text + d.flush(), s[mode].decode);
        }
      }
    });

    it("agrees with llama.cpp's tokenizer test vectors for its vocabulary", () => {
      for (const v of Object.values(golden.llama_cpp_test_vectors.applicable)) {
        for (const c of v.cases) assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.llama_cpp_expected_ids, JSON.stringify(c.text));
      }
    });

    it('renders every chat template case as transformers does (and raises where it raises)', () => {
      const templates = golden.chat_templates.templates;
      // The folder's own template is what the loader picked up (gpt-oss: chat_template.jinja).
      const own = templates['chat_template.jinja'] ?? templates['tokenizer_config.json#chat_template'];
      assert.equal(tok.chatTemplate, own!.source);
      for (const c of golden.chat_templates.cases) {
        const render = () => renderChatTemplate(templates[c.template]!.source, c.messages, {
          addGenerationPrompt: c.add_generation_prompt, kwargs: { ...c.template_kwargs, tools: c.tools, documents: null },
          bosToken: (c.template_kwargs['bos_token'] as string | undefined) ?? null, eosToken: (c.template_kwargs['eos_token'] as string | undefined) ?? null,
          now: PINNED_DATE,
        });
        const label = `${c.template} / ${c.conversation}`;
        if (c.error) {
          assert.throws(render, (e: Error) => e.message.includes(c.error!.message), label);
          continue;
        }
        const out = render();
        assert.equal(out, c.rendered, label);
        assert.deepEqual(tok.encode(out, { addSpecialTokens: false }), c.rendered_ids, label);
      }
    });
  });
}
