// Every tensor of every llama.cpp-quantized fixture file dequantizes to exactly what ggml's own
// to_float gives (the goldens' SHA-256 of the float32 values, checked there against ggml and gguf-py).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { GgufFile } from '../../src/model/loaders/gguf.js';
import { numel, toFloat32 } from '../../src/kernels/tensor.js';
import { quantFiles } from '../helpers/quant-fixtures.js';

describe('block decoders against ggml', () => {
  for (const f of quantFiles()) {
    it(`${f.model} ${f.type}: every tensor's float32 values are bit-exact`, () => {
      const gguf = GgufFile.open(f.file);
      try {
        const seen = new Set<string>();
        for (const t of f.golden.tensors) {
          const w = gguf.get(t.name);
          assert.equal(w.dtype, t.ggml_type.toLowerCase(), t.name);
          assert.deepEqual(w.shape, t.shape, t.name);
          const values = toFloat32(w);
          assert.equal(values.length, numel(t.shape));
          for (const [i, v] of t.samples) assert.equal(values[i], Math.fround(v), `${t.name}[${i}]`);
          const sha = crypto.createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex');
          assert.equal(sha, t.sha256_f32, t.name);
          seen.add(t.ggml_type);
        }
        assert.deepEqual([...seen].sort(), [...new Set(Object.values(f.golden.tensor_types))].sort());
      } finally {
        gguf.close();
      }
    });
  }
});
