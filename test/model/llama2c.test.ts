// llama2.c's formats, as run.c reads them. The test writes stories260K back into run.c's legacy .bin
// (q/k rows returned to llama2.c's interleaved order, the inverse of the fixture's conversion) and
// tok512 into tokenizer.bin, then checks run.c's own outputs: 256 greedy tokens from BOS and the
// encoding of every tok512 golden string.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadModel, type LoadedModel } from '../../src/model/load-model.js';
import { SafetensorsFile } from '../../src/model/loaders/safetensors.js';
import { ReferenceBackend } from '../../src/kernels/reference/reference-backend.js';
import { toFloat32 } from '../../src/kernels/tensor.js';
import { SequenceContext } from '../helpers/sequence-context.js';
import { argmax } from '../../src/engine/sampling/logprobs.js';
import { FIXTURES, modelDir, readJson } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/make-model.js';
import { permuteForInterleavedRope } from '../helpers/fixture-gguf.js';

function writeLlama2c(dir: string): string {
  const st = SafetensorsFile.open(path.join(modelDir('stories260K'), 'model.safetensors'));
  const t = (name: string) => toFloat32(st.read(name));
  const [D, F, L, H, KV, V, S] = [64, 172, 5, 8, 4, 512, 512];
  const header = Buffer.alloc(28);
  [D, F, L, H, KV, V, S].forEach((v, i) => header.writeInt32LE(v, i * 4));
  const parts: Float32Array[] = [t('model.embed_tokens.weight')];
  const each = (f: (l: number) => Float32Array) => Array.from({ length: L }, (_, l) => parts.push(f(l)));
  const p = (l: number, n: string) => t(`model.layers.${l}.${n}.weight`);
  each((l) => p(l, 'input_layernorm'));
  each((l) => permuteForInterleavedRope(p(l, 'self_attn.q_proj'), H, D));
  each((l) => permuteForInterleavedRope(p(l, 'self_attn.k_proj'), KV, D));
  each((l) => p(l, 'self_attn.v_proj'));
  each((l) => p(l, 'self_attn.o_proj'));
  each((l) => p(l, 'post_attention_layernorm'));
  each((l) => p(l, 'mlp.gate_proj'));
  each((l) => p(l, 'mlp.down_proj'));
  each((l) => p(l, 'mlp.up_proj'));
  parts.push(t('model.norm.weight'), new Float32Array(S * (D / H))); // + freq_cis_real and _imag
  st.close();
  const file = path.join(dir, 'stories260K.bin');
  fs.writeFileSync(file, Buffer.concat([header, ...parts.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))]));
  return file;
}

/** tok512 as run.c's tokenizer.bin; SentencePiece BPE scores pieces by -(rank), as the real file does. */
function writeTokenizerBin(dir: string): string {
  const json = readJson(path.join(FIXTURES, 'tokenizers', 'tok512', 'tokenizer.json'));
  const pieces: string[] = [];
  for (const [piece, id] of Object.entries(json.model.vocab as Record<string, number>)) pieces[id] = piece;
  const chunks = [Buffer.alloc(4)];
  chunks[0]!.writeInt32LE(16);
  pieces.forEach((piece, id) => {
    const text = id === 1 ? '\n<s>\n' : id === 2 ? '\n</s>\n' : piece.replaceAll('\u2581', ' ');
    const bytes = Buffer.from(text, 'utf8');
    const head = Buffer.alloc(8);
    head.writeFloatLE(id >= 259 ? -(id - 259) : 0, 0);
    head.writeInt32LE(bytes.length, 4);
    chunks.push(head, bytes);
  });
  const file = path.join(dir, 'tokenizer.bin');
  fs.writeFileSync(file, Buffer.concat(chunks));
  return file;
}

describe('llama2.c checkpoint and tokenizer.bin', () => {
  let dir: string;
  let m: LoadedModel;
  const golden = readJson(path.join(modelDir('stories260K'), 'golden.json'));
  before(async () => {
    dir = tempDir();
    writeTokenizerBin(dir);
    m = await loadModel(writeLlama2c(dir));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the header and runs 256 greedy tokens from BOS identical to run.c', () => {
    assert.equal(m.format, 'llama2c');
    assert.equal(m.config.rope!.style, 'interleaved');
    const ctx = new SequenceContext(new CausalLM(m.config, m.weights, new ReferenceBackend()), 257);
    let logits = ctx.eval([1]);
    const out: number[] = [];
    for (let i = 0; i < 256; i++) {
      out.push(argmax(logits));
      if (i < 255) logits = ctx.eval([out[i]!]);
    }
    assert.deepEqual(out, golden.bos_greedy.runc_ids);
  });

  it('tokenizer.bin encodes every tok512 golden as run.c does (except *_DIFFER)', () => {
    const cases = readJson(path.join(FIXTURES, 'tokenizers', 'tok512', 'golden.json')).cases;
    let n = 0;
    for (const c of cases) {
      if (Object.keys(c).some((k) => k.startsWith('hf_tokenizers') && k.endsWith('_DIFFER'))) continue;
      assert.deepEqual(m.tokenizer!.encode(c.text, { addSpecialTokens: false }), c.ids, JSON.stringify(c.text));
      n++;
    }
    assert.ok(n >= 250);
    for (const p of golden.prompted) assert.deepEqual(m.tokenizer!.encode(p.prompt_text), p.input_ids);
  });
});
