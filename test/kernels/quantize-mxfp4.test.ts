// MXFP4 against the OCP Microscaling spec (v1.0 s6.3): the shared exponent is floor(log2(amax)) - 2,
// every element is the nearest FP4 E2M1 value times 2^X (ties to the even code, saturating at 6),
// and the stored block decodes (the format's decoder, ggml's layout) to exactly those values.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { E2M1_VALUES, quantizeMxfp4Block } from '../../src/kernels/quantize-mxfp4.js';
import { dequantize } from '../../src/kernels/tensor.js';
import { Rng } from '../../src/util/rng.js';

function roundTrip(x: Float32Array): { bytes: Uint8Array; values: Float32Array } {
  const bytes = new Uint8Array(17);
  quantizeMxfp4Block(x, bytes, 0);
  const values = new Float32Array(32);
  dequantize({ dtype: 'mxfp4', shape: [1, 32], data: bytes }, 0, 32, values);
  return { bytes, values };
}

describe('MXFP4', () => {
  it('hand-worked block: scale 2^0, ties to even codes, saturation at 6, signs', () => {
    const x = new Float32Array(32);
    x.set([7, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, -3, -0.1, 4.9]);
    const { bytes, values } = roundTrip(x);
    assert.equal(bytes[0], 127, 'floor(log2 7) - 2 = 0: e = 127');
    assert.deepEqual([...values.subarray(0, 11)], [6, 0, 1, 1, 2, 2, 4, 4, -3, 0, 4]);
    assert.equal(bytes[1]! & 15, 7, 'element 0 in the low nibble of byte 0');
    assert.equal(bytes[1 + 8]! & 15, 8 | 5, '-3: sign bit and code 5');
  });

  it('random blocks: the spec exponent, and each value the nearest on the scaled E2M1 grid', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 300; trial++) {
      const mag = 2 ** Math.floor(rng.next() * 40 - 20);
      const x = Float32Array.from({ length: 32 }, () => (rng.next() * 2 - 1) * mag * (rng.next() < 0.1 ? 10 : 1));
      const amax = Math.max(...x.map(Math.abs));
      const { bytes, values } = roundTrip(x);
      const X = Math.floor(Math.log2(amax)) - 2;
      // log2 can round up just below a power of two; the exponent field decides.
      assert.ok(bytes[0]! - 127 === X || bytes[0]! - 127 === X - 1, `exponent ${bytes[0]! - 127} vs ${X}`);
      const scale = 2 ** (bytes[0]! - 127);
      assert.ok(amax / scale >= 4 && amax / scale < 8, 'amax lands in E2M1\'s top binade');
      const grid = E2M1_VALUES.flatMap((v) => [v * scale, -v * scale]);
      x.forEach((xi, j) => {
        const best = Math.min(...grid.map((g) => Math.abs(g - xi)));
        assert.ok(Math.abs(values[j]! - xi) <= best + 1e-12 * scale, `element ${j}: ${values[j]} for ${xi}`);
        assert.ok(grid.includes(values[j]!), 'on the grid');
      });
    }
  });

  it('an all-zero block is exponent 0 and zeros', () => {
    const { bytes, values } = roundTrip(new Float32Array(32));
    assert.equal(bytes[0], 0);
    assert.ok(values.every((v) => v === 0));
  });
});
