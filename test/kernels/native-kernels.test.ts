// Every native kernel (each ISA build this CPU runs: AVX-512, AVX-VNNI, AVX2, portable) against the reference backend, op by op, on shapes
// that hit the tile edges (rows not a multiple of the tile, odd n, k with a tail). Float formats must
// agree to float32 rounding; q8_0 and q4_0 differ from the reference (which multiplies the dequantized
// weights with the exact activations) only by the per-block quantization of the activations, whose
// error is bounded below.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AttentionSeq, AttentionShape, Backend, LayerKV, RopeSpec } from '../../src/kernels/backend.js';
import { KV_CACHE_DTYPES, kvHeadBytes, type KVCacheDType } from '../../src/kernels/kv-cache-dtype.js';
import { NativeBackend, PANEL_MAX_BYTES } from '../../src/kernels/native/native-backend.js';
import { quantizeRowsReference } from '../../src/kernels/quantize.js';
import { ReferenceBackend } from '../../src/kernels/reference/reference-backend.js';
import { dequantize, type WeightDType } from '../../src/kernels/tensor.js';
import { WEIGHT_DTYPES, WEIGHT_FORMATS } from '../../src/kernels/formats.js';
import { Rng } from '../../src/util/rng.js';
import { nativeAddon, nativeIsas } from '../helpers/backends.js';

const addon = nativeAddon();
const ref = new ReferenceBackend();

function randn(rng: Rng, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() + rng.next() + rng.next() - 1.5) * 2 * scale;
  return out;
}

function emptyCache(dtype: KVCacheDType, slots: number, numKvHeads: number, headDim: number, blockSize = 4): LayerKV {
  const bytes = slots * numKvHeads * kvHeadBytes(dtype, headDim);
  return { k: new Uint8Array(bytes), v: new Uint8Array(bytes), dtype, blockSize };
}

// How far int8 activations can move w . x: they round to steps of max|x| / 127 per block of 32, at
// most half a step each.
function activationRoundingBound(w: Float32Array, x: Float32Array): number {
  let bound = 0;
  for (let b = 0; b < x.length; b += 32) {
    const end = Math.min(x.length, b + 32);
    let amax = 0;
    for (let t = b; t < end; t++) amax = Math.max(amax, Math.abs(x[t]!));
    for (let t = b; t < end; t++) bound += Math.abs(w[t]!) * (amax / 127) * 0.5;
  }
  return bound;
}

function assertClose(actual: Float32Array, expected: Float32Array, tol: (i: number) => number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= tol(i))) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${tol(i)})`);
  }
}

for (const isa of nativeIsas()) {
  const be = new NativeBackend(addon!, { threads: 2, isa });
  describe(`native kernels (${be.name})`, () => {
    const rng = new Rng(1234);

    for (const dtype of WEIGHT_DTYPES) {
      const quantized = WEIGHT_FORMATS[dtype].quantized;
      const block = WEIGHT_FORMATS[dtype].blockSize;
      it(`matmul ${dtype} matches the reference on the dequantized weights`, () => {
        // Float formats: k with a tail (scalar path), k whose last 8 follow the AVX-512 build's 16-wide
        // steps, and k a multiple of 16 (rows reduced four at a time); block formats: three blocks of 32
        // or two super-blocks of 256.
        for (const k of quantized ? [block === 256 ? 512 : 96] : [83, 88, 64])
        for (const rows of [1, 2, 3, 4, 7, 70]) {
          for (const n of [1, 6, 37]) {
            const w = quantizeRowsReference(randn(rng, n * k, 0.1), [n, k], dtype);
            const x = randn(rng, rows * k);
            const bias = rows % 2 ? randn(rng, n) : undefined;
            const expected = new Float32Array(rows * n);
            const actual = new Float32Array(rows * n);
            ref.matmul(expected, x, ref.prepareWeight(w), rows, bias);
            be.matmul(actual, x, be.prepareWeight(w), rows, bias);
            const wf = new Float32Array(n * k);
            dequantize(w, 0, n * k, wf);
            assertClose(actual, expected, (i) => {
              const r = Math.floor(i / n), j = i % n;
              const wr = wf.subarray(j * k, (j + 1) * k), xr = x.subarray(r * k, (r + 1) * k);
              let mag = 0;
              for (let t = 0; t < k; t++) mag += Math.abs(wr[t]! * xr[t]!);
              return (quantized ? activationRoundingBound(wr, xr) * 1.001 : 0) + 1e-6 * mag + 1e-6;
            }, `${dtype} rows=${rows} n=${n}`);
          }
        }
      });

      it(`embedding gathers ${dtype} rows exactly`, () => {
        const dim = Math.max(64, block), vocab = 11;
        const table = quantizeRowsReference(randn(rng, vocab * dim), [vocab, dim], dtype);
        const ids = Int32Array.of(3, 0, 10, 3);
        const expected = new Float32Array(ids.length * dim);
        const actual = new Float32Array(ids.length * dim);
        ref.embedding(expected, table, ids);
        be.embedding(actual, table, ids);
        assert.deepEqual(actual, expected);
      });

      if (block === 256 || !['f32', 'f16', 'bf16', 'q8_0', 'q4_0'].includes(dtype)) continue;
      it(`quantizes float32 rows to ${dtype} with the reference's bytes`, () => {
        const src = randn(rng, 5 * 64, 0.3);
        src[7] = 0; // a block with zeros, and one all zero
        src.fill(0, 64, 96);
        const expected = quantizeRowsReference(src, [5, 64], dtype);
        const actual = new Uint8Array(expected.data.length);
        be.quantizeRows(actual, dtype, src, 5, 64);
        assert.deepEqual(actual, expected.data);
      });
    }

    it('rmsNorm, layerNorm, siluMul, gelu, geluMul, softcap and add match the reference', () => {
      const rows = 5, dim = 300;
      const x = randn(rng, rows * dim), up = randn(rng, rows * dim), gain = randn(rng, dim), bias = randn(rng, dim);
      const pairs: [string, (b: Backend, out: Float32Array) => void][] = [
        ['rmsNorm', (b, out) => b.rmsNorm(out, x, gain, rows, dim, 1e-5)],
        ['layerNorm', (b, out) => b.layerNorm(out, x, gain, bias, rows, dim, 1e-5)],
        ['siluMul', (b, out) => b.siluMul(out, x, up, rows * dim)],
        ['gelu', (b, out) => { out.set(x); b.gelu(out, rows * dim); }],
        // Gates to +-12 reach tanh's saturated tails; logits to +-90 past the cap of 30.
        ['geluMul', (b, out) => b.geluMul(out, x.map((v) => v * 4), up, rows * dim)],
        ['softcap', (b, out) => { out.set(x.map((v) => v * 30)); b.softcap(out, rows * dim, 30); }],
        ['add', (b, out) => { out.set(x); b.add(out, x.map((v) => v * 3), rows * dim); }],
      ];
      for (const [name, run] of pairs) {
        const expected = new Float32Array(rows * dim);
        const actual = new Float32Array(rows * dim);
        run(ref, expected);
        run(be, actual);
        assertClose(actual, expected, (i) => 2e-6 * (1 + Math.abs(expected[i]!)), name);
      }
    });

    it('large element-wise ops split over threads give the same result', () => {
      const n = 200_003;
      const x = randn(rng, n), y = randn(rng, n);
      const expected = new Float32Array(n), actual = new Float32Array(n);
      ref.siluMul(expected, x, y, n);
      be.siluMul(actual, x, y, n);
      assertClose(actual, expected, (i) => 2e-6 * (1 + Math.abs(expected[i]!)), 'siluMul');
    });

    for (const style of ['neox', 'interleaved'] as const) {
      it(`rope (${style}, full and partial rotary) matches the reference at large positions`, () => {
        for (const rotaryDim of [16, 8]) {
          const heads = 3, hd = 16, rows = 4;
          const spec: RopeSpec = { style, rotaryDim, invFreq: Float32Array.from({ length: rotaryDim / 2 }, (_, i) => 10000 ** (-(2 * i) / rotaryDim)) };
          const positions = Int32Array.of(0, 1, 777, 32767);
          const x = randn(rng, rows * heads * hd);
          const expected = x.slice(), actual = x.slice();
          ref.rope(expected, positions, rows, heads, hd, spec);
          be.rope(actual, positions, rows, heads, hd, spec);
          assertClose(actual, expected, () => 1e-5, `rope ${style} rotary ${rotaryDim}`);
        }
      });
    }

    // Caches are filled by the reference writeKV (the quantizer's specification); the native writeKV
    // must write the same bytes, and native attention must read them back as the reference does.
    // Groups of 5 and 6 query heads per KV head: the SIMD builds take a group's heads through a tile
    // 2 or 4 at a time, so each group has whole blocks and a remainder.
    for (const dtype of KV_CACHE_DTYPES) {
      for (const headDim of [8, 64]) {
        it(`paged attention on ${dtype} blocks (head ${headDim}): GQA, sliding window, prefill chunk and decode rows in one batch`, () => {
          for (const slidingWindow of [0, 5]) {
            const shape: AttentionShape = { numHeads: 10, numKvHeads: 2, headDim, blockSize: 4, scale: 1 / Math.sqrt(headDim), slidingWindow };
            const numBlocks = 12, slots = numBlocks * shape.blockSize;
            const cache = emptyCache(dtype, slots, shape.numKvHeads, headDim);
            const kvDim = shape.numKvHeads * headDim;
            ref.writeKV(cache, randn(rng, slots * kvDim), randn(rng, slots * kvDim), Int32Array.from({ length: slots }, (_, i) => i), slots, shape.numKvHeads, headDim);
            // A decode row with 9 tokens of context, a 6-token chunk after 3 cached tokens, a fresh 1-token prompt.
            const seqs: AttentionSeq[] = [
              { queryStart: 0, queryLen: 1, contextLen: 9, blockTable: Int32Array.of(7, 2, 11) },
              { queryStart: 1, queryLen: 6, contextLen: 9, blockTable: Int32Array.of(0, 5, 9) },
              { queryStart: 7, queryLen: 1, contextLen: 1, blockTable: Int32Array.of(4) },
            ];
            const rows = 8;
            const q = randn(rng, rows * shape.numHeads * headDim);
            const expected = new Float32Array(q.length), actual = new Float32Array(q.length);
            ref.attention(expected, q, cache, seqs, shape);
            be.attention(actual, q, cache, seqs, shape);
            assertClose(actual, expected, () => 1e-5, `${dtype} attention window ${slidingWindow}`);
          }
        });

        // Native attention visits keys in tiles of several blocks (128 keys at head 64, 1,024 at head 8):
        // contexts past a tile, query tiles of 16, and windows that start inside a tile and a block.
        it(`paged attention on ${dtype} blocks (head ${headDim}) across key tiles: long contexts, scattered blocks, windows`, () => {
          const blockSize = 16;
          const contextLen = headDim === 8 ? 1100 : 300;
          const numBlocks = Math.ceil(contextLen / blockSize);
          const blockTable = Int32Array.from({ length: numBlocks }, (_, i) => (i * 7) % numBlocks);
          for (const slidingWindow of [0, 150]) {
            const shape: AttentionShape = { numHeads: 12, numKvHeads: 2, headDim, blockSize, scale: 1 / Math.sqrt(headDim), slidingWindow };
            const slots = numBlocks * blockSize;
            const cache = emptyCache(dtype, slots, shape.numKvHeads, headDim, blockSize);
            const kvDim = shape.numKvHeads * headDim;
            ref.writeKV(cache, randn(rng, slots * kvDim), randn(rng, slots * kvDim), Int32Array.from({ length: slots }, (_, i) => i), slots, shape.numKvHeads, headDim);
            // The last 20 tokens as one chunk (two query tiles), then one decode row over the whole context.
            const seqs: AttentionSeq[] = [
              { queryStart: 0, queryLen: 20, contextLen, blockTable },
              { queryStart: 20, queryLen: 1, contextLen, blockTable },
            ];
            const q = randn(rng, 21 * shape.numHeads * headDim);
            // Plain, Gemma 2's soft-capped scores, and gpt-oss's per-head sinks (which also carry
            // through the blocked heads of a group).
            for (const extra of [{}, { softcap: 3 }, { sinks: randn(rng, shape.numHeads, 2) }]) {
              const expected = new Float32Array(q.length), actual = new Float32Array(q.length);
              ref.attention(expected, q, cache, seqs, { ...shape, ...extra });
              be.attention(actual, q, cache, seqs, { ...shape, ...extra });
              assertClose(actual, expected, () => 1e-5, `${dtype} attention over ${contextLen} tokens, window ${slidingWindow} ${Object.keys(extra).join('')}`);
            }
          }
        });

        // A query's keys are scored, weighted and summed in the same order whether it is decoded alone
        // or beside others (heads of 8 switch to transposed keys when a tile is shared): speculative
        // verification depends on it.
        it(`paged attention on ${dtype} blocks (head ${headDim}) gives a query the same bits alone and in a chunk`, () => {
          const blockSize = 16, contextLen = 260, chunk = 20;
          const numBlocks = Math.ceil(contextLen / blockSize);
          const blockTable = Int32Array.from({ length: numBlocks }, (_, i) => (i * 5) % numBlocks);
          for (const slidingWindow of [0, 37]) {
            const shape: AttentionShape = { numHeads: 12, numKvHeads: 2, headDim, blockSize, scale: 1 / Math.sqrt(headDim), slidingWindow };
            const slots = numBlocks * blockSize, qDim = shape.numHeads * headDim;
            const cache = emptyCache(dtype, slots, shape.numKvHeads, headDim, blockSize);
            const kvDim = shape.numKvHeads * headDim;
            ref.writeKV(cache, randn(rng, slots * kvDim), randn(rng, slots * kvDim), Int32Array.from({ length: slots }, (_, i) => i), slots, shape.numKvHeads, headDim);
            const q = randn(rng, chunk * qDim);
            const together = new Float32Array(q.length);
            be.attention(together, q, cache, [{ queryStart: 0, queryLen: chunk, contextLen, blockTable }], shape);
            for (let i = 0; i < chunk; i++) {
              const alone = new Float32Array(qDim);
              be.attention(alone, q.subarray(i * qDim, (i + 1) * qDim), cache, [{ queryStart: 0, queryLen: 1, contextLen: contextLen - chunk + i + 1, blockTable }], shape);
              assert.deepEqual(alone, together.subarray(i * qDim, (i + 1) * qDim), `${dtype} query ${i}, window ${slidingWindow}`);
            }
          }
        });

        it(`writeKV quantizes each row into its slot as the reference does (${dtype}, head ${headDim})`, () => {
          const numKvHeads = 2, slots = Int32Array.of(5, 0, 13, -1);
          const k = randn(rng, 4 * numKvHeads * headDim, 3), v = randn(rng, 4 * numKvHeads * headDim, 0.01);
          const a = emptyCache(dtype, 16, numKvHeads, headDim), b = emptyCache(dtype, 16, numKvHeads, headDim);
          ref.writeKV(a, k, v, slots, 4, numKvHeads, headDim);
          be.writeKV(b, k, v, slots, 4, numKvHeads, headDim);
          assert.deepEqual(b, a);
          assert.ok(a.k.some((x) => x !== 0) && a.v.some((x) => x !== 0), 'something was written');
        });
      }
    }

    it('a block holds each head\'s tokens contiguously: [blocks][kv heads][block size] records', () => {
      const cache = emptyCache('f32', 8, 2, 8);
      const k = Float32Array.from({ length: 16 }, (_, i) => i + 1);
      be.writeKV(cache, k, k, Int32Array.of(5), 1, 2, 8);
      const f = new Float32Array(cache.k.buffer);
      // slot 5 = block 1, offset 1; head 1 of it sits after block 0 (2 x 4 records) and head 0's 4 records of block 1.
      assert.deepEqual([...f.subarray(((1 * 2 + 1) * 4 + 1) * 8, ((1 * 2 + 1) * 4 + 2) * 8)], [9, 10, 11, 12, 13, 14, 15, 16]);
      assert.deepEqual([...f.subarray(((1 * 2 + 0) * 4 + 1) * 8, ((1 * 2 + 0) * 4 + 2) * 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(f.filter((x) => x !== 0).length, 16);
    });

    it('packs f32 weights in panels of 16 columns, zero past n', () => {
      const n = 18, k = 3;
      const w = Float32Array.from({ length: n * k }, (_, i) => i + 1);
      const packed = new Float32Array(2 * 16 * k);
      be.kernels.packPanels(packed, new Uint8Array(w.buffer), n, k);
      for (let p = 0; p < 2; p++)
        for (let i = 0; i < k; i++)
          for (let j = 0; j < 16; j++) {
            const row = p * 16 + j;
            assert.equal(packed[(p * k + i) * 16 + j], row < n ? w[row * k + i] : 0, `panel ${p}, i ${i}, column ${j}`);
          }
    });

    it('f32 matmul above the packed-panel size runs the row-major tile, matching the reference', () => {
      const n = 1030, k = 1024, rows = 5;
      assert.ok(n * k * 4 > PANEL_MAX_BYTES);
      const w = quantizeRowsReference(randn(rng, n * k, 0.05), [n, k], 'f32');
      const x = randn(rng, rows * k);
      const bias = randn(rng, n);
      const expected = new Float32Array(rows * n), actual = new Float32Array(rows * n);
      ref.matmul(expected, x, ref.prepareWeight(w), rows, bias);
      be.matmul(actual, x, be.prepareWeight(w), rows, bias);
      assertClose(actual, expected, (i) => 1e-5 * (1 + Math.abs(expected[i]!)), 'f32 row-major tile');
      const alone = new Float32Array(n);
      be.matmul(alone, x.subarray(2 * k, 3 * k), be.prepareWeight(w), 1, bias);
      assert.deepEqual(alone, actual.subarray(2 * n, 3 * n), 'a row alone gets the same bits');
    });

    it('packs q8_0 and q4_0 weights 8 rows at a time, block by block, zero past n', () => {
      const n = 13, k = 64, nb = k / 32;
      for (const dtype of ['q8_0', 'q4_0'] as const) {
        const { code, blockBytes } = WEIGHT_FORMATS[dtype];
        const w = quantizeRowsReference(randn(rng, n * k), [n, k], dtype);
        const packed = new Uint8Array(16 * nb * blockBytes);
        be.kernels.packRows8(packed, w.data, code, n, k);
        const groupBlock = 8 * blockBytes;
        for (let g = 0; g < 2; g++)
          for (let b = 0; b < nb; b++)
            for (let r = 0; r < 8; r++) {
              const row = 8 * g + r;
              const src = (i: number) => (row < n ? w.data[(row * nb + b) * blockBytes + i]! : 0);
              const at = (g * nb + b) * groupBlock;
              assert.deepEqual([packed[at + 2 * r], packed[at + 2 * r + 1]], [src(0), src(1)], `${dtype} scale of row ${row}, block ${b}`);
              for (let t = 0; t < (blockBytes - 2) / 4; t++)
                for (let i = 0; i < 4; i++)
                  assert.equal(packed[at + 16 + 32 * t + 4 * r + i], src(2 + 4 * t + i), `${dtype} row ${row}, block ${b}, byte ${4 * t + i}`);
            }
      }
      assert.throws(() => be.kernels.packRows8(new Uint8Array(1 << 12), new Uint8Array(1 << 12), WEIGHT_FORMATS.f16.code, 8, 64), /packRows8: bad dtype/);
    });

    for (const dtype of ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'iq4_nl', 'iq4_xs', 'mxfp4'] as WeightDType[]) {
      it(`${dtype} matmul gives a row the same bits alone, in a prefill and in a batch`, () => {
        // Every output is one ordered chain over k (FMAs of the packed-panel kernel; per-block exact
        // integer dots scaled and summed in block order for q8_0/q4_0), whatever tile its row falls
        // in: speculative verification relies on this to reproduce plain decoding exactly. f16/bf16 (the
        // row-major float kernel): k = 91 takes the AVX-512 build's 16-wide steps, one 8-wide step and a tail.
        const floatK: Partial<Record<WeightDType, number>> = { f32: 70, f16: 91, bf16: 91 };
        const n = 45, k = floatK[dtype] ?? (WEIGHT_FORMATS[dtype].blockSize === 256 ? 512 : 96), total = 13;
        const w = quantizeRowsReference(randn(rng, n * k, 0.1), [n, k], dtype);
        const x = randn(rng, total * k);
        const bias = randn(rng, n);
        const all = new Float32Array(total * n);
        be.matmul(all, x, be.prepareWeight(w), total, bias);
        for (const rows of [1, 2, 3, 4, 5, 6, 7]) {
          for (const r0 of [0, 3, total - rows]) {
            const part = new Float32Array(rows * n);
            be.matmul(part, x.subarray(r0 * k, (r0 + rows) * k), be.prepareWeight(w), rows, bias);
            assert.deepEqual(part, all.subarray(r0 * n, (r0 + rows) * n), `rows ${r0}..${r0 + rows}`);
          }
        }
      });
    }

    // A decode row against rows of k >= 4096 goes through three, two or one groups of 8 weight rows
    // at a time, within a unit of 6 groups of a thread's share (2 threads): n = 45 makes shares of 24
    // and 21 rows (a triple, and a triple whose last group is partial), n = 509 shares of 256 and 253
    // (5 units and a pair; 5 units and a pair, the last group partial); n = 1030 (q8_0 and q4_k: the
    // schedule is the same for every format) shares of 520 and 510 (10 units and a triple and a
    // single; 10 units and a triple and a partial group). A batch row takes the guided chunks.
    for (const dtype of WEIGHT_DTYPES.filter((d) => WEIGHT_FORMATS[d].rows8)) {
      for (const n of [45, 509, ...(dtype === 'q8_0' || dtype === 'q4_k' ? [1030] : [])]) it(`${dtype} matmul with long rows (n ${n}): a decode row gets the reference's values and a batch row's bits`, () => {
        const k = 4096, total = 3;
        const w = quantizeRowsReference(randn(rng, n * k, 0.1), [n, k], dtype);
        const x = randn(rng, total * k);
        const bias = randn(rng, n);
        const prepared = be.prepareWeight(w);
        const wf = new Float32Array(n * k);
        dequantize(w, 0, n * k, wf);
        const all = new Float32Array(total * n), expected = new Float32Array(n);
        be.matmul(all, x, prepared, total, bias);
        ref.matmul(expected, x.subarray(0, k), ref.prepareWeight(w), 1, bias);
        for (let r = 0; r < total; r++) {
          const alone = new Float32Array(n);
          be.matmul(alone, x.subarray(r * k, (r + 1) * k), prepared, 1, bias);
          assert.deepEqual(alone, all.subarray(r * n, (r + 1) * n), `row ${r}`);
          if (r === 0) assertClose(alone, expected, (j) => activationRoundingBound(wf.subarray(j * k, (j + 1) * k), x.subarray(0, k)) + 1e-4, `${dtype} against the reference`);
        }
      });
    }

    it('gathers rows and scatter-adds weighted rows with the reference bits; refuses ids outside the array', () => {
      const dim = 37, rows = 9;
      const x = randn(rng, rows * dim);
      const ids = Int32Array.of(8, 0, 3, 3, 5);
      const expected = new Float32Array(ids.length * dim), actual = new Float32Array(ids.length * dim);
      ref.gatherRows(expected, x, ids, dim);
      be.gatherRows(actual, x, ids, dim);
      assert.deepEqual(actual, expected);
      assert.deepEqual(actual.subarray(0, dim), x.subarray(8 * dim, 9 * dim));
      const y = randn(rng, 4 * dim);
      const to = Int32Array.of(7, 2, 0, 4);
      const weights = Float64Array.of(0.25, 1 / 3, 0.7000000000000001, 1e-3);
      const outRef = randn(rng, rows * dim), outNative = Float32Array.from(outRef);
      ref.scatterAddRows(outRef, y, to, weights, dim);
      be.scatterAddRows(outNative, y, to, weights, dim);
      assert.deepEqual(outNative, outRef);
      assert.notDeepEqual(outRef.subarray(7 * dim, 8 * dim), outNative.subarray(6 * dim, 7 * dim));
      assert.throws(() => be.gatherRows(actual, x, Int32Array.of(9), dim), /ids name a row outside the array/);
      assert.throws(() => be.scatterAddRows(outNative, y, Int32Array.of(-1), weights, dim), /ids name a row outside the array/);
      assert.throws(() => be.scatterAddRows(outNative, y, to, Float64Array.of(1), dim), /weights is too short/);
    });

    it('refuses shapes that do not fit the arrays instead of reading past them', () => {
      const w = quantizeRowsReference(new Float32Array(4 * 64), [4, 64], 'q8_0');
      assert.throws(() => be.matmul(new Float32Array(4), new Float32Array(32), be.prepareWeight(w), 1), /x is too short/);
      assert.throws(() => be.embedding(new Float32Array(64), { ...w, shape: [4, 64] }, Int32Array.of(9)), /outside the vocabulary/);
      const cache = emptyCache('f32', 4, 1, 8);
      assert.throws(() => be.writeKV(cache, new Float32Array(8), new Float32Array(8), Int32Array.of(4), 1, 1, 8), /outside the cache/);
      assert.throws(() => be.writeKV(emptyCache('int4', 4, 1, 8), new Float32Array(7), new Float32Array(7), Int32Array.of(0), 1, 1, 7), /bad kv dtype or head shape/);
      const shape: AttentionShape = { numHeads: 1, numKvHeads: 1, headDim: 8, blockSize: 4, scale: 1, slidingWindow: 0 };
      assert.throws(
        () => be.attention(new Float32Array(8), new Float32Array(8), cache, [{ queryStart: 0, queryLen: 1, contextLen: 5, blockTable: Int32Array.of(0, 3) }], shape),
        /inconsistent/,
      );
      const cosSin = new Float32Array(4 * 8);
      assert.throws(() => be.kernels.rope(new Float32Array(8), Int32Array.of(4), 1, 1, 8, 0, 8, cosSin, 4), /position 4 is outside the cos\/sin table/);
      assert.throws(() => be.kernels.rope(new Float32Array(8), Int32Array.of(-1), 1, 1, 8, 0, 8, cosSin, 4), /outside the cos\/sin table/);
      assert.throws(() => be.kernels.rope(new Float32Array(8), Int32Array.of(0), 1, 1, 8, 0, 8, cosSin, 5), /cosSin is too short/);
    });
  });
}

describe('native thread pool', { skip: !addon }, () => {
  it('gives the same matmul result with 1, 2 and 3 threads', () => {
    const rng = new Rng(9);
    const n = 300, k = 256, rows = 33;
    const w = quantizeRowsReference(randn(rng, n * k, 0.1), [n, k], 'q4_0');
    const x = randn(rng, rows * k);
    const results = [1, 2, 3].map((threads) => {
      const be = new NativeBackend(addon!, { threads });
      assert.equal(be.threads, threads);
      const out = new Float32Array(rows * n);
      const pw = be.prepareWeight(w);
      for (let rep = 0; rep < 20; rep++) be.matmul(out, x, pw, rows);
      return out;
    });
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
  });

  it('gives a decode row the same bits with 1, 2 and 3 threads, each share taken in units and the rest taken by the others', () => {
    // n = 1030 over 3 threads: shares of 344, 344 and 342 rows in units of 48, the last unit of each short.
    const rng = new Rng(10);
    const n = 1030, k = 512;
    const w = quantizeRowsReference(randn(rng, n * k, 0.1), [n, k], 'q4_k');
    const x = randn(rng, k);
    const ref = new ReferenceBackend();
    const expected = new Float32Array(n);
    ref.matmul(expected, x, ref.prepareWeight(w), 1);
    const results = [1, 2, 3].map((threads) => {
      const be = new NativeBackend(addon!, { threads });
      const out = new Float32Array(n).fill(NaN);
      const pw = be.prepareWeight(w);
      for (let rep = 0; rep < 20; rep++) be.matmul(out, x, pw, 1);
      return out;
    });
    assert.ok(results[0]!.every((v, j) => Math.abs(v - expected[j]!) < 0.05 + 0.02 * Math.abs(expected[j]!)), 'every row computed');
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
  });
});

// The SIMD builds compute the same integer dot products (the AVX-512 build two pieces a vector with
// unsigned weights and exact offsets, the others one piece, through VNNI or maddubs) and the same float
// chain around them, so every output has the same bits whichever build runs.
describe('native kernel builds agree bit for bit', () => {
  const simd = nativeIsas().filter((isa) => isa !== 'generic');
  for (const dtype of WEIGHT_DTYPES.filter((d) => WEIGHT_FORMATS[d].rows8)) {
    it(`matmul ${dtype}: ${simd.join(', ')}`, { skip: simd.length < 2 && 'fewer than two SIMD builds run here' }, () => {
      const rng = new Rng(77);
      // Rows of 512 in a batch, and rows of 4096 against one decode row (groups side by side).
      for (const [n, k, rows] of [[37, 512, 6], [45, 4096, 1], [509, 4096, 1]] as const) {
        const w = quantizeRowsReference(randn(rng, n * k, 0.1), [n, k], dtype);
        const x = randn(rng, rows * k);
        const outs = simd.map((isa) => {
          const be = new NativeBackend(addon!, { threads: 2, isa });
          const out = new Float32Array(rows * n);
          be.matmul(out, x, be.prepareWeight(w), rows);
          return out;
        });
        for (let i = 1; i < outs.length; i++) assert.deepEqual(outs[i], outs[0], `k ${k}: ${simd[i]} against ${simd[0]}`);
      }
    });
  }
});
