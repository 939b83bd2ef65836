// A byte-level vocabulary carried in GGUF (tokens, merges, token types and tokenizer.ggml.pre, as
// llama.cpp's converter writes them) encodes as the model's own tokenizer.json does: Llama 3
// ("llama-bpe") and DeepSeek-V3 ("deepseek-v3", three splits in sequence) against the Rust tokenizers
// goldens; an unknown pre-tokenizer name is refused by name.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, it } from 'node:test';
import { GgufFile } from '../../src/model/loaders/gguf.js';
import { ggufTokenizer } from '../../src/model/tokenizer/gguf-tokenizer.js';
import { ModelLoadError } from '../../src/util/errors.js';
import { FIXTURES, readJson } from '../helpers/fixtures.js';
import { writeGguf } from '../helpers/gguf-writer.js';
import { tempDir } from '../helpers/make-model.js';

const dir = tempDir();
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function vocabAsGguf(name: string, pre: string): string {
  const json = readJson(path.join(FIXTURES, 'tokenizers', name, 'tokenizer.json'));
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [piece, id] of Object.entries(json.model.vocab as Record<string, number>)) [tokens[id], types[id]] = [piece, 1];
  for (const t of json.added_tokens as { id: number; content: string; special: boolean }[]) [tokens[t.id], types[t.id]] = [t.content, t.special ? 3 : 4];
  for (let i = 0; i < tokens.length; i++) if (tokens[i] === undefined) [tokens[i], types[i]] = [`[PAD${i}]`, 5];
  const merges = (json.model.merges as (string | string[])[]).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const file = path.join(dir, `${name}-${pre}.gguf`);
  writeGguf(file, [
    ['general.architecture', { str: 'llama' }],
    ['tokenizer.ggml.model', { str: 'gpt2' }],
    ['tokenizer.ggml.pre', { str: pre }],
    ['tokenizer.ggml.tokens', { strs: tokens }],
    ['tokenizer.ggml.token_type', { i32s: types }],
    ['tokenizer.ggml.merges', { strs: merges }],
  ], [{ name: 'token_embd.weight', shape: [1, 1], data: new Float32Array(1) }]);
  return file;
}

for (const [name, pre] of [['llama3', 'llama-bpe'], ['deepseek-v3', 'deepseek-v3']] as const) {
  it(`a GGUF ${pre} vocabulary encodes all 120 ${name} goldens as tokenizer.json does`, () => {
    const tok = ggufTokenizer(GgufFile.open(vocabAsGguf(name, pre)))!;
    const cases = readJson<{ cases: { text: string; ids: number[]; decode: string }[] }>(path.join(FIXTURES, 'tokenizers', name, 'golden.json')).cases;
    for (const c of cases) {
      assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids, JSON.stringify(c.text));
      assert.equal(tok.decode(c.ids), c.decode, JSON.stringify(c.text));
    }
  });
}

it('refuses a pre-tokenizer it does not know, naming it', () => {
  const file = vocabAsGguf('llama3', 'tekken');
  assert.throws(() => ggufTokenizer(GgufFile.open(file)), (e) => e instanceof ModelLoadError && /tokenizer\.ggml\.pre "tekken"/.test(e.message) && /deepseek-v3/.test(e.message));
});
