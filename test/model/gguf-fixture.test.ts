// The llama-gqa fixture written as a llama.cpp GGUF (q/k rows in llama.cpp's interleaved order, GGUF
// tensor names and metadata) gives transformers' logits and greedy tokens.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, it } from 'node:test';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadModel } from '../../src/model/load-model.js';
import { ReferenceBackend } from '../../src/kernels/reference/reference-backend.js';
import { SequenceContext } from '../helpers/sequence-context.js';
import { argmax } from '../../src/engine/sampling/logprobs.js';
import { FIXTURES, maxAbsDiff, modelDir, readJson, type ModelGolden } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/make-model.js';
import { familyFixtureAsGguf, llama31AsGguf, llamaGqaAsGguf } from '../helpers/fixture-gguf.js';
import { testBackends } from '../helpers/backends.js';
import { deepseekAsGguf } from '../helpers/deepseek-gguf.js';

const dir = tempDir();
after(() => fs.rmSync(dir, { recursive: true, force: true }));

it('llama-gqa from GGUF matches the HF goldens', async () => {
  const file = path.join(dir, 'llama-gqa.gguf');
  llamaGqaAsGguf(file);
  const m = await loadModel(file);
  assert.equal(m.config.rope!.style, 'interleaved');
  assert.equal(m.config.numKvHeads, 2);
  const model = new CausalLM(m.config, m.weights, new ReferenceBackend());
  const golden = readJson<ModelGolden>(path.join(modelDir('llama-gqa'), 'golden.json'));
  for (const p of golden.prompts) {
    const ctx = new SequenceContext(model, p.input_ids.length + 32);
    let logits = ctx.eval(p.input_ids);
    assert.ok(maxAbsDiff(logits, p.last_logits) < 1e-4, p.name);
    const out: number[] = [];
    for (let i = 0; i < 32; i++) {
      out.push(argmax(logits));
      logits = ctx.eval([out[i]!]);
    }
    assert.deepEqual(out, p.greedy_new_tokens, p.name);
  }
});

it('a byte-level (gpt2) GGUF vocabulary reproduces the GPT-2 goldens, and its chat template is used', async () => {
  const tokDir = path.join(FIXTURES, 'tokenizers', 'gpt2');
  const vocab = readJson<Record<string, number>>(path.join(tokDir, 'vocab.json'));
  const tokens: string[] = [];
  for (const [piece, id] of Object.entries(vocab)) tokens[id] = piece;
  const merges = fs.readFileSync(path.join(tokDir, 'merges.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#version'));
  const file = path.join(dir, 'gpt2-vocab.gguf');
  const template = '{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}';
  llamaGqaAsGguf(file, {
    meta: [
      ['tokenizer.ggml.model', { str: 'gpt2' }],
      ['tokenizer.ggml.tokens', { strs: tokens }],
      ['tokenizer.ggml.token_type', { i32s: tokens.map((_, i) => (i === 50256 ? 3 : 1)) }],
      ['tokenizer.ggml.merges', { strs: merges }],
      ['tokenizer.ggml.eos_token_id', { u32: 50256 }],
      ['tokenizer.chat_template', { str: template }],
    ],
  });
  const m = await loadModel(file);
  const cases = readJson(path.join(tokDir, 'golden.json')).cases as { text: string; ids: number[]; [k: string]: unknown }[];
  for (const c of cases) {
    if (Object.keys(c).some((k) => k.endsWith('_DIFFER'))) continue;
    assert.deepEqual(m.tokenizer!.encode(c.text), c.ids, JSON.stringify(c.text));
    assert.equal(m.tokenizer!.decode(c.ids), c.text);
  }
  assert.deepEqual(m.tokenizer!.eosTokenIds, [50256]);
  assert.equal(m.tokenizer!.chatTemplate, template);
});

it("a Llama 3.1 GGUF applies its rope_freqs.weight (llama3 scaling as llama.cpp stores it): HF's goldens", async () => {
  const file = path.join(dir, 'llama31.gguf');
  llama31AsGguf(file);
  const m = await loadModel(file);
  assert.equal(m.config.rope!.scaling!.type, 'freq-factors');
  const model = new CausalLM(m.config, m.weights, new ReferenceBackend());
  const golden = readJson<ModelGolden>(path.join(modelDir('llama31-tied-rope-llama3'), 'golden.json'));
  for (const p of golden.prompts) {
    const ctx = new SequenceContext(model, p.input_ids.length + 32);
    let logits = ctx.eval(p.input_ids);
    assert.ok(maxAbsDiff(logits, p.last_logits) < 1e-4, `${p.name}: ${maxAbsDiff(logits, p.last_logits)}`);
    const out: number[] = [];
    for (let i = 0; i < 32; i++) {
      out.push(argmax(logits));
      logits = ctx.eval([out[i]!]);
    }
    assert.deepEqual(out, p.greedy_new_tokens, p.name);
  }
});

const FAMILY_GGUFS: [string, string, (file: string) => void][] = [
  ...(['gemma2', 'gemma3', 'phi3'] as const).map((name): [string, string, (file: string) => void] => [name, name, (file) => familyFixtureAsGguf(name, file)]),
  ['deepseek-v3', 'deepseek-v3 (attn_kv_b)', (file) => deepseekAsGguf(file)],
  ['deepseek-v3', 'deepseek-v3 (attn_k_b, attn_v_b)', (file) => deepseekAsGguf(file, { splitKvB: true })],
];

for (const [name, label, write] of FAMILY_GGUFS) {
  it(`${label} written as llama.cpp's converter writes it gives the HF goldens on every backend`, async () => {
    const file = path.join(dir, `${label.replace(/\W+/g, '-')}.gguf`);
    write(file);
    const m = await loadModel(file);
    const golden = readJson<ModelGolden>(path.join(modelDir(name), 'golden.json'));
    for (const backend of testBackends()) {
      const model = new CausalLM(m.config, m.weights, backend.make());
      for (const p of golden.prompts) {
        const ctx = new SequenceContext(model, p.input_ids.length + 32);
        let logits = ctx.eval(p.input_ids);
        assert.ok(maxAbsDiff(logits, p.last_logits) < 1e-4, `${backend.name} ${p.name}: ${maxAbsDiff(logits, p.last_logits)}`);
        const out: number[] = [];
        for (let i = 0; i < 32; i++) {
          out.push(argmax(logits));
          logits = ctx.eval([out[i]!]);
        }
        assert.deepEqual(out, p.greedy_new_tokens, `${backend.name} ${p.name}`);
      }
    }
  });
}
