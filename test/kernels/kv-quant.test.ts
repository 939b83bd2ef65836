// The KV-cache formats: fp8 codecs against the OCP definitions, each format's round-trip error within
// its bound, and the record sizes and capacity they give.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveEngineConfig } from '../../src/engine/engine-config.js';
import { KV_CACHE_DTYPES, int4GroupSize, kvBytesPerToken, kvHeadBytes, type KVCacheDType } from '../../src/kernels/kv-cache-dtype.js';
import { resolveKVCacheDType } from '../../src/engine/engine-config.js';
import { FP8_E4M3, FP8_E5M2, decodeFp8, encodeFp8, readHeadRecord, writeHeadRecord } from '../../src/kernels/reference/kv-quant.js';
import { bf16ToFloat, floatToHalf, halfToFloat } from '../../src/kernels/tensor.js';
import { Rng } from '../../src/util/rng.js';
import { PRESETS } from '../../src/model/presets.js';

describe('fp8 codecs', () => {
  it('decode the OCP values: e4m3 max 448, min subnormal 2^-9; e5m2 max 57344, min subnormal 2^-16', () => {
    assert.equal(decodeFp8(0x7e, FP8_E4M3), 448);
    assert.equal(decodeFp8(0x01, FP8_E4M3), 2 ** -9);
    assert.equal(decodeFp8(0x38, FP8_E4M3), 1);
    assert.equal(decodeFp8(0xb8, FP8_E4M3), -1);
    assert.equal(decodeFp8(0x7b, FP8_E5M2), 57344);
    assert.equal(decodeFp8(0x01, FP8_E5M2), 2 ** -16);
    assert.equal(decodeFp8(0x3c, FP8_E5M2), 1);
  });

  it('e5m2 is the top byte of an IEEE half', () => {
    for (let c = 0; c < 256; c++) {
      if ((c & 0x7c) === 0x7c) continue; // inf/NaN codes are never written
      assert.equal(decodeFp8(c, FP8_E5M2), halfToFloat(c << 8), `code ${c}`);
    }
  });

  for (const [name, spec] of [['e4m3', FP8_E4M3], ['e5m2', FP8_E5M2]] as const) {
    it(`${name}: every finite code re-encodes to itself; midpoints round to even; overflow saturates`, () => {
      for (let c = 0; c < 256; c++) {
        if ((c & 0x7f) > spec.maxCode) continue;
        if (c === 0x80) continue; // -0 encodes as -0: same code, but 0 === -0 hides it
        assert.equal(encodeFp8(decodeFp8(c, spec), spec), c, `code ${c}`);
      }
      for (let c = 0; c < spec.maxCode; c++) {
        const mid = (decodeFp8(c, spec) + decodeFp8(c + 1, spec)) / 2;
        assert.equal(encodeFp8(mid, spec), c % 2 === 0 ? c : c + 1, `midpoint after code ${c}`);
      }
      assert.equal(encodeFp8(spec.max * 4, spec), spec.maxCode);
      assert.equal(encodeFp8(-Infinity, spec), 0x80 | spec.maxCode);
      assert.equal(encodeFp8(1e-30, spec), 0);
    });
  }
});

function roundTrip(dtype: KVCacheDType, x: Float32Array): Float32Array {
  const rec = new Uint8Array(kvHeadBytes(dtype, x.length));
  writeHeadRecord(dtype, x, 0, x.length, rec, 0);
  const out = new Float32Array(x.length);
  readHeadRecord(dtype, rec, 0, x.length, out);
  return out;
}

describe('KV-cache formats round-trip within their bounds', () => {
  const rng = new Rng(7);
  // Gaussian-ish heads, one with an outlier channel (as keys have), one tiny and one all zero.
  const heads = (hd: number): Float32Array[] => {
    const g = (s: number) => Float32Array.from({ length: hd }, () => (rng.next() + rng.next() + rng.next() - 1.5) * 2 * s);
    const outlier = g(1);
    outlier[3] = 40;
    return [g(1), g(0.05), outlier, g(1e-6), new Float32Array(hd)];
  };
  // Worst error of one element, given the head's largest magnitude (relative formats also get |x|).
  const bound: Record<KVCacheDType, (x: number, amax: number) => number> = {
    f32: () => 0,
    f16: (x) => Math.abs(x) * 2 ** -11 + 2 ** -25,
    bf16: (x) => Math.abs(x) * 2 ** -8,
    // scale s = amax / 127 rounded up to bf16 (at most 2^-7 more); error half a step
    int8: (_x, amax) => (amax / 127) * (1 + 2 ** -7) * 0.5,
    // 3 mantissa bits: half an ulp is 2^-4 relative; below the normals a step of 2^-9 s, s = amax / 448
    fp8_e4m3: (x, amax) => Math.max(Math.abs(x) * 2 ** -4, (amax / 448) * (1 + 2 ** -7) * 2 ** -10),
    fp8_e5m2: (x, amax) => Math.max(Math.abs(x) * 2 ** -3, (amax / 57344) * (1 + 2 ** -7) * 2 ** -17),
    // d = amax / 8 rounded up; a step of d, except the one side clipped at +7 (a whole step)
    int4: (_x, amax) => (amax / 8) * (1 + 2 ** -7),
  };

  for (const dtype of KV_CACHE_DTYPES) {
    it(`${dtype}: every element within its bound, heads of 8, 16 and 64`, () => {
      for (const hd of [8, 16, 64]) {
        for (const x of heads(hd)) {
          const y = roundTrip(dtype, x);
          const g = dtype === 'int4' ? int4GroupSize(hd) : hd;
          for (let i = 0; i < hd; i++) {
            let amax = 0;
            for (let j = i - (i % g); j < i - (i % g) + g; j++) amax = Math.max(amax, Math.abs(x[j]!));
            const err = Math.abs(y[i]! - x[i]!);
            assert.ok(err <= bound[dtype](x[i]!, amax) * (1 + 1e-6), `${dtype} hd ${hd}: element ${i} ${x[i]} came back ${y[i]} (amax ${amax})`);
          }
        }
      }
    });
  }

  it('a scale never clips: the largest value comes back from int8 and fp8 within a step', () => {
    const x = Float32Array.from({ length: 16 }, (_, i) => (i === 5 ? -3.3 : i * 0.1));
    for (const dtype of ['int8', 'fp8_e4m3', 'fp8_e5m2'] as const) {
      const y = roundTrip(dtype, x);
      assert.ok(Math.abs(y[5]! + 3.3) < 3.3 * 0.07, `${dtype}: ${y[5]}`);
    }
  });

  it('int4 error is larger than int8\'s, and both are smaller than the signal', () => {
    const x = heads(64)[0]!;
    const rms = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0) / a.length);
    const e8 = rms(roundTrip('int8', x), x), e4 = rms(roundTrip('int4', x), x), signal = rms(x, new Float32Array(64));
    assert.ok(e8 < e4 && e4 < signal / 5, `int8 ${e8}, int4 ${e4}, signal ${signal}`);
  });
});

describe('KV-cache capacity by dtype', () => {
  it('records: 64-dim heads take 256, 128, 66 and 36 bytes; scales are bf16 in the record', () => {
    assert.deepEqual(KV_CACHE_DTYPES.map((d) => kvHeadBytes(d, 64)), [256, 128, 128, 66, 66, 66, 36]);
    assert.equal(kvHeadBytes('int4', 8), 6); // one group of 8: 4 bytes of nibbles + one scale
    const rec = new Uint8Array(66);
    writeHeadRecord('int8', Float32Array.from({ length: 64 }, (_, i) => i - 32), 0, 64, rec, 0);
    assert.equal(bf16ToFloat(new DataView(rec.buffer).getUint16(64, true)) >= 32 / 127, true);
  });

  it('resolves auto to f16 and refuses unknown names', () => {
    assert.equal(resolveKVCacheDType(undefined), 'f16');
    assert.equal(resolveKVCacheDType('auto'), 'f16');
    assert.equal(resolveKVCacheDType('int4'), 'int4');
    assert.throws(() => resolveKVCacheDType('fp4'), /one of auto, f32, f16/);
    assert.equal(floatToHalf(1), 0x3c00);
  });

  it('the same budget holds ~2x the 2,048-token sequences at 8 bits and ~3.5x at 4 bits (TinyLlama shape)', () => {
    const model = PRESETS['tinyllama-1.1b']!();
    const budget = 4 * 2 ** 30;
    const seqs = (kvCacheDtype: KVCacheDType) => {
      const c = resolveEngineConfig(model, { kvCacheMemory: budget, kvCacheDtype, maxModelLen: 2048, maxNumSeqs: 1024 });
      assert.equal(c.kvCacheDtype, kvCacheDtype);
      assert.ok(c.kvCacheBytes <= budget);
      return Math.floor((c.numBlocks * c.blockSize) / 2048);
    };
    // f16: 2 x 22 layers x 4 heads x 128 bytes = 22,528 bytes a token; 4 GiB / (2,048 x 22,528) = 93 sequences.
    assert.equal(kvBytesPerToken('f16', 22, 4, 64), 22_528);
    assert.equal(seqs('f16'), 93);
    assert.equal(seqs('f32'), 46);
    for (const d of ['int8', 'fp8_e4m3', 'fp8_e5m2'] as const) assert.equal(seqs(d), 180, d); // 128/66 = 1.94x
    assert.equal(seqs('int4'), 330); // 128/36 = 3.56x
  });
});
