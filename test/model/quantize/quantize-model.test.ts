// `tsllm quantize` against llama.cpp's llama-quantize (the gguf-quants fixtures were made by it from
// the same F32 file, without an importance matrix): every type's whole file comes out byte for byte the
// same, per-tensor type mixes and 32-block fallbacks included, so each tensor's error against the
// source is llama.cpp's (RMSE ratio 1, asserted too). From the Hugging Face folder the converter's
// tensor names, q/k row order, metadata and tokenizer come out the same.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { GgufFile } from '../../../src/model/loaders/gguf.js';
import { toFloat32 } from '../../../src/kernels/tensor.js';
import { quantizeModel } from '../../../src/model/quantize/quantize-model.js';
import { QUANT_TYPES, parseQuantType, type QuantTypeName } from '../../../src/model/quantize/tensor-types.js';
import { UsageError } from '../../../src/util/errors.js';
import { tempDir } from '../../helpers/make-model.js';
import { tsllm } from '../../helpers/cli.js';
import { QUANT_FIXTURES, quantFiles } from '../../helpers/quant-fixtures.js';

const dir = tempDir();
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function rmse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s / a.length);
}

describe('tsllm quantize matches llama-quantize', () => {
  for (const f of quantFiles().filter((q) => q.type !== 'F32')) {
    it(`${f.model} ${f.type}: the same file, byte for byte`, async () => {
      const source = path.join(QUANT_FIXTURES, f.model, 'F32', `${f.model}-F32.gguf`);
      const out = path.join(dir, `${f.model}-${f.type}.gguf`);
      const report = await quantizeModel(source, out, { type: parseQuantType(f.type)! });
      assert.deepEqual(Object.fromEntries(report.tensors.map((t) => [t.name, t.to.toUpperCase()])), f.golden.tensor_types);
      const ours = GgufFile.open(out), theirs = GgufFile.open(f.file), src = GgufFile.open(source);
      try {
        for (const name of theirs.tensors.keys()) {
          const x = toFloat32(src.get(name));
          const ratio = rmse(toFloat32(ours.get(name)), x) / Math.max(rmse(toFloat32(theirs.get(name)), x), 1e-30);
          assert.ok(ratio <= 1.05, `${name}: RMSE ${ratio}x llama.cpp's`);
        }
      } finally {
        for (const g of [ours, theirs, src]) g.close();
      }
      assert.ok(fs.readFileSync(out).equals(fs.readFileSync(f.file)), 'identical to llama-quantize output');
      fs.rmSync(out);
    });
  }

  it('from the Hugging Face folder: the converter\'s names, row order, metadata and tokenizer', async () => {
    const out = path.join(dir, 'hf-Q4_K_M.gguf');
    await quantizeModel(path.join(QUANT_FIXTURES, 'llama256', 'hf'), out, { type: 'Q4_K_M' });
    const ours = GgufFile.open(out), theirs = GgufFile.open(path.join(QUANT_FIXTURES, 'llama256', 'Q4_K_M', 'llama256-Q4_K_M.gguf'));
    try {
      assert.deepEqual([...ours.metadata.keys()], [...theirs.metadata.keys()]);
      for (const [key, value] of theirs.metadata) {
        if (key !== 'general.name') assert.deepEqual(ours.metadata.get(key), value, key);
        assert.deepEqual(ours.metadataTypes.get(key), theirs.metadataTypes.get(key), key);
      }
      assert.equal(ours.meta('general.name'), 'hf', 'named for its folder, as the converter names it');
      assert.deepEqual([...ours.tensors.keys()], [...theirs.tensors.keys()]);
      for (const name of theirs.tensors.keys()) assert.deepEqual(ours.get(name), theirs.get(name), name);
    } finally {
      ours.close();
      theirs.close();
    }
  });

  it('the command line writes the file and names its mix; bad requests fail clearly and write nothing', () => {
    const source = path.join(QUANT_FIXTURES, 'llama256', 'F32', 'llama256-F32.gguf');
    const out = path.join(dir, 'cli-Q6_K.gguf');
    const ok = tsllm(['quantize', source, out, '--type', 'q6_k']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Q6_K, 21 tensors \(16 Q6_K, 5 F32\)/);
    assert.ok(fs.readFileSync(out).equals(fs.readFileSync(path.join(QUANT_FIXTURES, 'llama256', 'Q6_K', 'llama256-Q6_K.gguf'))));
    const badType = tsllm(['quantize', source, path.join(dir, 'x.gguf'), '--type', 'Q7_K']);
    assert.notEqual(badType.code, 0);
    assert.match(badType.stderr, /unknown --type Q7_K \(choose from F32, F16, BF16, Q8_0, Q4_0, .*Q4_K_M.*\)/);
    const requant = tsllm(['quantize', out, path.join(dir, 'y.gguf'), '--type', 'Q4_K_M']);
    assert.notEqual(requant.code, 0);
    assert.match(requant.stderr, /tensor "[^"]+" is already Q6_K; quantize from F32, F16 or BF16 weights/);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('x.gguf') || n.startsWith('y.gguf')), []);
  });

  it('knows every type llama-quantize names, its aliases, and file types', async () => {
    assert.equal(parseQuantType('q4_k'), 'Q4_K_M');
    assert.equal(parseQuantType('Q3_K'), 'Q3_K_M');
    assert.equal(parseQuantType('nope'), null);
    const fileTypes: Partial<Record<QuantTypeName, number>> = { Q4_K_M: 15, Q5_K_M: 17, Q6_K: 18, Q8_0: 7, IQ4_XS: 30 };
    for (const [t, ft] of Object.entries(fileTypes)) assert.equal(QUANT_TYPES[t as QuantTypeName].fileType, ft);
    await assert.rejects(quantizeModel(path.join(dir, 'missing'), path.join(dir, 'z.gguf'), { type: 'Q8_0' }), UsageError);
  });
});

describe('--quantization at load', () => {
  it('Q4_K_M on the HF weights gives llama-quantize\'s tensors (q/k aside, whose rows GGUF permutes)', async () => {
    const { loadModel } = await import('../../../src/model/load-model.js');
    const { ReferenceBackend } = await import('../../../src/kernels/reference/reference-backend.js');
    const ours = await loadModel(path.join(QUANT_FIXTURES, 'llama256', 'hf'), { quantization: { format: 'Q4_K_M', backend: new ReferenceBackend() } });
    const theirs = await loadModel(path.join(QUANT_FIXTURES, 'llama256', 'Q4_K_M', 'llama256-Q4_K_M.gguf'));
    const pairs = [
      [ours.weights.embed, theirs.weights.embed], [ours.weights.lmHead, theirs.weights.lmHead],
      ...ours.weights.layers.flatMap((l, i) => {
        const g = theirs.weights.layers[i]!;
        return [[l.v, g.v], [l.o, g.o], [l.mlp!.gate!, g.mlp!.gate!], [l.mlp!.up, g.mlp!.up], [l.mlp!.down, g.mlp!.down]];
      }),
    ];
    assert.deepEqual(pairs.map(([a]) => a!.dtype), ['q4_k', 'q6_k', 'q4_k', 'q4_k', 'q4_k', 'q4_k', 'q4_k', 'q6_k', 'q4_k', 'q4_k', 'q4_k', 'q6_k']);
    for (const [a, b] of pairs) assert.deepEqual(a, b);
  });
});
