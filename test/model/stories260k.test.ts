// Karpathy's stories260K (converted to HF layout) against run.c: 256 greedy tokens from BOS, and
// 64 tokens after each text prompt, encoded with the tok512 tokenizer.

import assert from 'node:assert/strict';
import path from 'node:path';
import { it } from 'node:test';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadHfWeights, readHfConfig } from '../../src/model/loaders/hf-folder.js';
import { ReferenceBackend } from '../../src/kernels/reference/reference-backend.js';
import { SequenceContext } from '../helpers/sequence-context.js';
import { argmax } from '../../src/engine/sampling/logprobs.js';
import { loadHfTokenizer } from '../../src/model/tokenizer/hf-tokenizer-files.js';
import { FIXTURES, modelDir, readJson } from '../helpers/fixtures.js';

const dir = modelDir('stories260K');
const config = readHfConfig(dir);
const model = new CausalLM(config, loadHfWeights(dir, config), new ReferenceBackend());
const golden = readJson(path.join(dir, 'golden.json'));

function greedy(prompt: number[], n: number): number[] {
  const ctx = new SequenceContext(model, prompt.length + n);
  let logits = ctx.eval(prompt);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(argmax(logits));
    if (i < n - 1) logits = ctx.eval([out[i]!]);
  }
  return out;
}

it('256 greedy tokens from BOS match run.c', () => {
  assert.deepEqual(greedy([1], 256), golden.bos_greedy.runc_ids);
});

it('both text prompts encode as run.c does and continue identically for 64 tokens', () => {
  const tok = loadHfTokenizer(path.join(FIXTURES, 'tokenizers', 'tok512'))!;
  for (const p of golden.prompted) {
    assert.deepEqual(tok.encode(p.prompt_text), p.input_ids);
    assert.deepEqual(greedy(p.input_ids, 64), p.runc_greedy_new_tokens);
  }
});
