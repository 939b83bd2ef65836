// The format registry: the addon's table (native/src/formats.h) equals TypeScript's, a doctored table
// is refused with every difference named, and sizes derived from the table are the layouts' own.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KV_FORMATS, WEIGHT_DTYPES, WEIGHT_FORMATS, checkNativeFormats, type NativeFormatTable } from '../../src/kernels/formats.js';
import { kvHeadBytes, kvDTypeUnsupported } from '../../src/kernels/kv-cache-dtype.js';
import { byteSize } from '../../src/kernels/tensor.js';
import { nativeAddon } from '../helpers/backends.js';

const addon = nativeAddon();

const ours = (): NativeFormatTable => ({
  weights: Object.entries(WEIGHT_FORMATS).map(([name, f]) => ({ name, ...f })),
  kv: Object.entries(KV_FORMATS).map(([name, f]) => ({ name, ...f })),
});

describe('format registry', () => {
  it('the addon exports the same formats, with the same codes and sizes', { skip: !addon }, () => {
    const native = addon!.formats();
    assert.deepEqual(checkNativeFormats(native), []);
    assert.deepEqual(native.weights.map((f) => f.name), [...WEIGHT_DTYPES]);
    assert.equal(native.weights.find((f) => f.name === 'q4_0')!.blockBytes, 18);
  });

  it('a table that disagrees is refused, naming each difference', () => {
    const t = ours();
    t.weights.find((f) => f.name === 'q8_0')!.blockBytes = 36;
    t.kv.find((f) => f.name === 'int4')!.code = 9;
    t.weights.push({ name: 'q9_9', code: 99, blockSize: 32, blockBytes: 22, quantized: true, ggmlType: 99, rows8: false });
    t.kv = t.kv.filter((f) => f.name !== 'fp8_e5m2');
    assert.deepEqual(checkNativeFormats(t), [
      'weight format q8_0: blockBytes is 36 in the addon, 34 in TypeScript',
      'weight format q9_9 is in the addon but not in src/kernels/formats.ts',
      'KV format int4: code is 9 in the addon, 6 in TypeScript',
      'KV format fp8_e5m2 is in src/kernels/formats.ts but not in the addon',
    ]);
    assert.deepEqual(checkNativeFormats(ours()), []);
  });

  it('sizes come from the table: weight rows and KV head records', () => {
    assert.equal(byteSize('q8_0', 64), 68);
    assert.equal(byteSize('q4_0', 64), 36);
    assert.equal(byteSize('bf16', 10), 20);
    assert.throws(() => byteSize('q4_0', 40), /multiple of 32/);
    assert.equal(kvHeadBytes('f32', 64), 256);
    assert.equal(kvHeadBytes('int8', 64), 66);
    assert.equal(kvHeadBytes('fp8_e4m3', 8), 10);
    assert.equal(kvHeadBytes('int4', 64), 32 + 2 * 2);
    assert.equal(kvHeadBytes('int4', 6), 3 + 2, 'a head not a multiple of 32 is one group');
    assert.match(kvDTypeUnsupported('int4', 5)!, /int4/);
    assert.equal(kvDTypeUnsupported('int8', 5), null);
  });
});
