// The tokenizer goldens: ids from sentencepiece (llama2-32k), run.c (tok512) and OpenAI's encoder
// (gpt2), and their decodes. Cases marked *_DIFFER are where HF tokenizers knowingly differ
// (literal special-token text; a literal U+2581 for run.c) and are skipped, as the fixture README says.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadHfTokenizer } from '../../src/model/tokenizer/hf-tokenizer-files.js';
import { IncrementalDetokenizer } from '../../src/model/tokenizer/tokenizer.js';
import { FIXTURES, readJson } from '../helpers/fixtures.js';

interface Case {
  text: string;
  ids: number[];
  ids_with_bos?: number[];
  hf_tokenizers_decode?: string;
  [k: string]: unknown;
}

const differs = (c: Case) => Object.keys(c).some((k) => k.startsWith('hf_tokenizers') && k.endsWith('_DIFFER'));

for (const name of ['llama2-32k', 'tok512', 'gpt2']) {
  describe(`tokenizer ${name}`, () => {
    const dir = path.join(FIXTURES, 'tokenizers', name);
    const tok = loadHfTokenizer(dir)!;
    const cases = readJson<{ cases: Case[] }>(path.join(dir, 'golden.json')).cases;

    it('encodes every golden string (except *_DIFFER)', () => {
      const checked = cases.filter((c) => !differs(c));
      assert.ok(checked.length >= 250);
      for (const c of checked) {
        assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids, JSON.stringify(c.text));
        if (c.ids_with_bos) assert.deepEqual(tok.encode(c.text), c.ids_with_bos, JSON.stringify(c.text));
      }
    });

    it('decodes every golden id list as HF tokenizers does', () => {
      for (const c of cases) {
        if (c.hf_tokenizers_decode === undefined) continue;
        assert.equal(tok.decode(c.ids), c.hf_tokenizers_decode, JSON.stringify(c.text));
      }
    });

    it('streams token by token without broken UTF-8, adding up to the full decode', () => {
      for (const c of cases) {
        const d = new IncrementalDetokenizer(tok, { skipSpecialTokens: false, startOfText: true });
        const parts = c.ids.map((id) => d.push(id));
        parts.push(d.flush());
        for (const p of parts) assert.ok(!p.includes('\uFFFD') || c.text.includes('\uFFFD'), `broken UTF-8 in ${JSON.stringify(c.text)}`);
        assert.equal(parts.join(''), tok.decode(c.ids));
      }
    });
  });
}
