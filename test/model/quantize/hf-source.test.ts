// `tsllm quantize` from Hugging Face folders of each architecture it converts: the F32 GGUF it writes
// must mean the same model (transformers' logits within 1e-4: names, q/k row order, biases and
// q/k norms carried) and carry the same tokenizer (a byte-level BPE tokenizer.json's goldens).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModel } from '../../../src/model/load-model.js';
import { CausalLM } from '../../../src/model/architectures/decoder.js';
import { ReferenceBackend } from '../../../src/kernels/reference/reference-backend.js';
import { quantizeModel } from '../../../src/model/quantize/quantize-model.js';
import { UsageError } from '../../../src/util/errors.js';
import { SequenceContext } from '../../helpers/sequence-context.js';
import { FIXTURES, maxAbsDiff, modelDir, readJson, type ModelGolden } from '../../helpers/fixtures.js';
import { tempDir } from '../../helpers/make-model.js';

const dir = tempDir();
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function folderWith(model: string, tokenizer: string): string {
  const out = path.join(dir, `${model}-${tokenizer}`);
  fs.mkdirSync(out, { recursive: true });
  for (const f of fs.readdirSync(modelDir(model))) if (f !== 'golden.json') fs.copyFileSync(path.join(modelDir(model), f), path.join(out, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(FIXTURES, 'tokenizers', tokenizer, f), path.join(out, f));
  return out;
}

describe('tsllm quantize from Hugging Face folders', () => {
  for (const model of ['llama-gqa', 'qwen2-bias', 'qwen3-qknorm']) {
    it(`${model}: the F32 GGUF gives transformers' logits, and carries the byte-level tokenizer`, async () => {
      const src = folderWith(model, 'llama3');
      const out = path.join(dir, `${model}.gguf`);
      await quantizeModel(src, out, { type: 'F32' });
      const m = await loadModel(out);
      assert.equal(m.format, 'gguf');
      const net = new CausalLM(m.config, m.weights, new ReferenceBackend());
      const golden = readJson<ModelGolden>(path.join(modelDir(model), 'golden.json'));
      for (const p of golden.prompts) {
        const ctx = new SequenceContext(net, p.input_ids.length + 1);
        assert.ok(maxAbsDiff(ctx.eval(p.input_ids), p.last_logits) < 1e-4, p.name);
      }
      const tok = readJson<{ cases: { text: string; ids: number[] }[] }>(path.join(FIXTURES, 'tokenizers', 'llama3', 'golden.json'));
      for (const c of tok.cases.slice(0, 40)) assert.deepEqual(m.tokenizer!.encode(c.text, { addSpecialTokens: false }), c.ids, JSON.stringify(c.text));
      assert.ok(m.tokenizer!.chatTemplate, 'chat template carried');
    });
  }

  it('refuses what it cannot convert, naming the way round', async () => {
    await assert.rejects(quantizeModel(modelDir('mixtral-moe'), path.join(dir, 'x.gguf'), { type: 'Q8_0' }), (e: Error) => e instanceof UsageError && /covers Llama, Mistral, Qwen2 and Qwen3 \(this is mixtral\)/.test(e.message));
    await assert.rejects(quantizeModel(folderWith('llama-gqa', 'tok512'), path.join(dir, 'y.gguf'), { type: 'Q8_0' }), /needs its tokenizer\.model/);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('x.gguf') || f.startsWith('y.gguf')), []);
  });
});
