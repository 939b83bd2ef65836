// Every bad-file case gives one clear line naming the file and the problem, a non-zero exit, and no
// stack trace.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { modelDir } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/make-model.js';
import { QUANT_FIXTURES } from '../helpers/quant-fixtures.js';
import { llamaGqaAsGguf } from '../helpers/fixture-gguf.js';
import { tsllm } from '../helpers/cli.js';

describe('bad model files', () => {
  let dir: string;
  let goodGguf: string;
  before(() => {
    dir = tempDir();
    goodGguf = path.join(dir, 'good.gguf');
    llamaGqaAsGguf(goodGguf);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A copy of the llama-gqa folder with one change. */
  function hfCopy(name: string, change: (d: string) => void): string {
    const d = path.join(dir, name);
    fs.cpSync(modelDir('llama-gqa'), d, { recursive: true });
    change(d);
    return d;
  }

  function expectOneLineError(model: string, pattern: RegExp, extra: string[] = []): void {
    const r = tsllm(['generate', '--model', model, '--prompt-ids', '1,2', '--max-tokens', '2', ...extra]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
    assert.match(lines[0]!, /^tsllm: error: /);
    assert.match(lines[0]!, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }

  it('a missing path', () => expectOneLineError(path.join(dir, 'nope'), /nope: no such file or folder/));
  it('a folder without config.json', () => expectOneLineError(hfCopy('noconfig', (d) => fs.rmSync(path.join(d, 'config.json'))), /config\.json: cannot read: file not found/));
  it('a folder without weights', () => expectOneLineError(hfCopy('noweights', (d) => fs.rmSync(path.join(d, 'model.safetensors'))), /no model\.safetensors/));
  it('an unknown architecture, listing the supported ones', () =>
    expectOneLineError(hfCopy('bert', (d) => {
      const f = path.join(d, 'config.json');
      fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, 'utf8')), model_type: 'bert' }));
    }), /config\.json: unknown architecture "bert"; supported: llama, mistral, qwen2, qwen3, mixtral, qwen2_moe, qwen3_moe, gpt2/));
  it('a truncated safetensors file', () =>
    expectOneLineError(hfCopy('truncated', (d) => {
      const f = path.join(d, 'model.safetensors');
      fs.truncateSync(f, fs.statSync(f).size - 1000);
    }), /model\.safetensors: truncated: tensor "[^"]+" ends at byte \d+ but the file has \d+ bytes/));
  it('a corrupted safetensors header', () =>
    expectOneLineError(hfCopy('corrupt', (d) => {
      const f = path.join(d, 'model.safetensors');
      const b = fs.readFileSync(f);
      b.write('#garbage#', 8); // over the header's opening brace
      fs.writeFileSync(f, b);
    }), /model\.safetensors: corrupted safetensors header \(not valid JSON\)/));
  it('a safetensors header entry missing its fields', () =>
    expectOneLineError(hfCopy('entry', (d) => {
      const f = path.join(d, 'model.safetensors');
      const b = fs.readFileSync(f);
      b.write('"dtypx"', b.indexOf('"dtype"'));
      fs.writeFileSync(f, b);
    }), /corrupted safetensors header entry for "lm_head\.weight"/));
  it('an unsupported dtype', () =>
    expectOneLineError(hfCopy('dtype', (d) => {
      const f = path.join(d, 'model.safetensors');
      const b = fs.readFileSync(f);
      const len = Number(b.readBigUInt64LE(0));
      const header = b.subarray(8, 8 + len).toString('utf8').replace('"F32"', '"I8 "');
      fs.writeFileSync(f, Buffer.concat([b.subarray(0, 8), Buffer.from(header), b.subarray(8 + len)]));
    }), /unsupported dtype I8/));
  it('tensor shapes that do not match the config', () =>
    expectOneLineError(hfCopy('shape', (d) => {
      const f = path.join(d, 'config.json');
      fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, 'utf8')), intermediate_size: 180 }));
    }), /tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[172, 64\], expected \[180, 64\]/));
  it('a truncated GGUF', () => {
    const f = path.join(dir, 'truncated.gguf');
    fs.copyFileSync(goodGguf, f);
    fs.truncateSync(f, fs.statSync(f).size - 4096);
    expectOneLineError(f, /truncated\.gguf: truncated: tensor "[^"]+" ends at byte/);
  });
  it('a file that is not GGUF', () => {
    const f = path.join(dir, 'bad-magic.gguf');
    const b = fs.readFileSync(goodGguf);
    b.write('GGUX', 0);
    fs.writeFileSync(f, b);
    expectOneLineError(f, /bad-magic\.gguf: not a GGUF file \(bad magic\)/);
  });
  it('an unknown GGUF architecture', () => {
    const f = path.join(dir, 'arch.gguf');
    llamaGqaAsGguf(f, { arch: 'mamba' });
    expectOneLineError(f, /arch\.gguf: unknown GGUF architecture "mamba"; supported: llama, qwen2, qwen3, qwen2moe, qwen3moe/);
  });
  it('an unsupported GGUF tensor type', () => {
    const f = path.join(dir, 'qtype.gguf');
    llamaGqaAsGguf(f, { typeId: 16 });
    expectOneLineError(f, /qtype\.gguf: tensor "blk\.0\.attn_q\.weight" has unsupported type IQ2_XXS \(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4\)/);
  });
  it('a truncated K-quant GGUF is caught at load, naming the tensor cut short', () => {
    const f = path.join(dir, 'cut-Q4_K_M.gguf');
    fs.copyFileSync(path.join(QUANT_FIXTURES, 'llama256', 'Q4_K_M', 'llama256-Q4_K_M.gguf'), f);
    fs.truncateSync(f, fs.statSync(f).size - 100);
    expectOneLineError(f, /cut-Q4_K_M\.gguf: truncated: tensor "[^"]+" ends at byte \d+ but the file has \d+ bytes/);
  });
  it('a truncated llama2.c checkpoint', () => {
    const f = path.join(dir, 'model.bin');
    const header = Buffer.alloc(28);
    [64, 172, 5, 8, 4, 512, 512].forEach((v, i) => header.writeInt32LE(v, i * 4));
    fs.writeFileSync(f, Buffer.concat([header, Buffer.alloc(1000)]));
    expectOneLineError(f, /model\.bin: truncated: the header needs \d+ bytes, the file has 1028/);
  });
});
