// The Backend interface on the C++ kernels addon: one ISA build of the kernels (AVX-512, AVX2 or
// portable) on a persistent thread pool. Weights are passed as they are stored, never widened; formats
// are named to the addon by its own codes (checked against src/kernels/formats.ts at load).

import type { AttentionSeq, AttentionShape, Backend, ExpertRouting, GroupedRoutingSpec, LayerKV, PreparedWeight, RopeSpec } from '../backend.js';
import { routeExperts, routeExpertsGrouped, sigmoidWeights } from '../reference/expert-routing.js';
import { WEIGHT_FORMATS, type KVCacheDType, type WeightDType } from '../formats.js';
import { concatRows, type WeightTensor } from '../tensor.js';
import { quantizeRowsReference } from '../quantize.js';
import type { NativeAddon, NativeKernels } from './native-addon.js';

/**
 * The panel kernel streams a chunk of the weight once per tile of 6 activation rows, so it is used
 * where the whole weight stays in cache; larger f32 weights (a 1B model's) keep the row-major tile,
 * which was 1.8x faster at 512 rows of a 46 MB weight. The choice is per weight, never per batch, so
 * a row's result does not depend on the rows beside it.
 */
export const PANEL_MAX_BYTES = 4 << 20;

export interface NativeBackendOptions {
  /** Threads of the pool, the calling thread included. */
  threads: number;
  /** A kernel build by name (generic, avx2, avx512); default: the fastest this CPU runs. */
  isa?: string;
}

/**
 * A weight as the native matmul reads it: f32 weights up to PANEL_MAX_BYTES in column panels, q8_0,
 * q4_0, q4_K and q6_K regrouped 8 rows at a time, the rest (f16, bf16, the other block formats) as stored.
 */
// The formats the addon's quantizeRows writes; the other block formats search for their scales and are
// quantized by the TypeScript specification.
const NATIVE_QUANTIZERS = new Set<WeightDType>(['f32', 'f16', 'bf16', 'q8_0', 'q4_0']);

class NativeWeight implements PreparedWeight {
  constructor(
    readonly shape: readonly [number, number],
    readonly dtype: WeightDType,
    readonly data: Float32Array | Uint8Array,
    readonly ownsCopy: boolean,
  ) {}
}

interface RopeTable {
  /** [positions, rotaryDim]: per position, rotaryDim / 2 cosines then the sines */
  cosSin: Float32Array;
  positions: number;
}

interface PackedSeqs {
  desc: Int32Array;
  tables: Int32Array;
}

export class NativeBackend implements Backend {
  readonly name: string;
  readonly kernels: NativeKernels;
  // The decoder passes the same seqs array to every layer; pack it once per forward pass.
  private packed = new WeakMap<readonly AttentionSeq[], PackedSeqs>();
  // RoPE's cosines and sines per position, shared by q and k of every layer, grown as contexts grow.
  private ropeTables = new WeakMap<Float32Array, RopeTable>();

  private readonly weightCode: Record<string, number>;
  private readonly kvCode: Record<string, number>;

  constructor(
    private readonly addon: NativeAddon,
    options: NativeBackendOptions,
  ) {
    this.kernels = options.isa ? new addon.Kernels(options.threads, options.isa) : new addon.Kernels(options.threads);
    this.name = `native-${this.kernels.isa}`;
    const formats = addon.formats();
    this.weightCode = Object.fromEntries(formats.weights.map((f) => [f.name, f.code]));
    this.kvCode = Object.fromEntries(formats.kv.map((f) => [f.name, f.code]));
  }

  private code(dtype: WeightDType): number {
    return this.weightCode[dtype]!;
  }

  private kv(dtype: KVCacheDType): number {
    return this.kvCode[dtype]!;
  }

  get threads(): number {
    return this.kernels.threads;
  }

  matmul(out: Float32Array, x: Float32Array, w: PreparedWeight, rows: number, bias?: Float32Array): void {
    const { shape: [n, k], data } = w as NativeWeight;
    if (data instanceof Float32Array) this.kernels.matmulPanels(out, x, data, n, k, rows, bias);
    else this.kernels.matmul(out, x, data, this.code(w.dtype), n, k, rows, bias);
  }

  // f32 weights in panels: the matmul kernel then sums outer products with no horizontal reductions
  // (1.2-2.5x faster for small k and several rows). Block formats (all but q2_k) regrouped 8 rows at a
  // time: the integer kernel gets 8 rows' dot products per vector and streams each group sequentially;
  // the regrouped copy is about the original's size (rows8-layouts.h), whose pages go back to the OS.
  prepareWeight(weights: WeightTensor | readonly WeightTensor[]): PreparedWeight {
    if (!Array.isArray(weights)) return this.prepareOne(weights as WeightTensor);
    const prepared = this.prepareOne(concatRows(weights));
    // The stacked copy was read instead of the originals (usually the mapped file): hand their pages back.
    for (const m of weights as readonly WeightTensor[]) this.addon.releasePages(m.data);
    return new NativeWeight(prepared.shape, prepared.dtype, prepared.data, true);
  }

  releasePages(data: Uint8Array): void {
    this.addon.releasePages(data);
  }

  private prepareOne(w: WeightTensor): NativeWeight {
    const [n, k] = w.shape as [number, number];
    if (w.dtype === 'f32' && n * k * 4 <= PANEL_MAX_BYTES) {
      const packed = new Float32Array(Math.ceil(n / 16) * 16 * k);
      this.kernels.packPanels(packed, w.data, n, k);
      return new NativeWeight([n, k], w.dtype, packed, true);
    }
    if (WEIGHT_FORMATS[w.dtype].rows8) {
      // Decode streams every weight once a step: on 2 MiB pages (where the OS grants them) it
      // walks a page table entry per 2 MiB rather than per 4 KiB (batch-1 q8_0 decode 5-8% faster).
      const packed = new Uint8Array(this.addon.allocate(this.addon.rows8Bytes(this.code(w.dtype), n, k), true));
      this.kernels.packRows8(packed, w.data, this.code(w.dtype), n, k);
      // Packing read every page of the original (usually the mapped file); only an embedding table
      // used as the output head reads it again, a row at a time.
      this.addon.releasePages(w.data);
      return new NativeWeight([n, k], w.dtype, packed, true);
    }
    return new NativeWeight([n, k], w.dtype, w.data, false);
  }

  gatherRows(out: Float32Array, x: Float32Array, ids: Int32Array, dim: number): void {
    this.kernels.gatherRows(out, x, ids, dim);
  }

  scatterAddRows(out: Float32Array, y: Float32Array, ids: Int32Array, weights: Float64Array, dim: number): void {
    this.kernels.scatterAddRows(out, y, ids, weights, dim);
  }

  sigmoid(x: Float32Array, n: number): Float64Array {
    return sigmoidWeights(x, n);
  }

  // A few numbers per row: the reference's own code, in this backend's (host) memory.
  routeExperts(logits: Float32Array, rows: number, numExperts: number, topK: number, normTopK: boolean, grouped?: GroupedRoutingSpec): ExpertRouting {
    return grouped ? routeExpertsGrouped(logits, rows, numExperts, topK, normTopK, grouped) : routeExperts(logits, rows, numExperts, topK, normTopK);
  }

  rmsNorm(out: Float32Array, x: Float32Array, gain: Float32Array, rows: number, dim: number, eps: number): void {
    this.kernels.rmsNorm(out, x, gain, rows, dim, eps);
  }

  layerNorm(out: Float32Array, x: Float32Array, gain: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number): void {
    this.kernels.layerNorm(out, x, gain, bias, rows, dim, eps);
  }

  rope(x: Float32Array, positions: Int32Array, rows: number, numHeads: number, headDim: number, spec: RopeSpec): void {
    let maxPos = 0;
    for (let r = 0; r < rows; r++) maxPos = Math.max(maxPos, positions[r]!);
    const t = this.ropeTable(spec, maxPos + 1);
    this.kernels.rope(x, positions, rows, numHeads, headDim, spec.style === 'neox' ? 0 : 1, spec.rotaryDim, t.cosSin, t.positions);
  }

  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    this.kernels.siluMul(out, gate, up, n);
  }

  clampedSwiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number, limit: number): void {
    this.kernels.clampedSwiglu(out, gate, up, n, limit);
  }

  geluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    this.kernels.geluMul(out, gate, up, n);
  }

  softcap(x: Float32Array, n: number, cap: number): void {
    this.kernels.softcap(x, n, cap);
  }

  gelu(x: Float32Array, n: number): void {
    this.kernels.gelu(x, n);
  }

  embedding(out: Float32Array, table: WeightTensor, ids: Int32Array): void {
    const [vocab, dim] = table.shape as [number, number];
    this.kernels.embedding(out, table.data, this.code(table.dtype), dim, vocab, ids, ids.length);
  }

  add(x: Float32Array, y: Float32Array, n: number): void {
    this.kernels.add(x, y, n);
  }

  writeKV(cache: LayerKV, k: Float32Array, v: Float32Array, slotMapping: Int32Array, rows: number, numKvHeads: number, headDim: number): void {
    this.kernels.writeKV(cache.k, cache.v, this.kv(cache.dtype), k, v, slotMapping, rows, numKvHeads, headDim, cache.blockSize);
  }

  attention(out: Float32Array, q: Float32Array, cache: LayerKV, seqs: readonly AttentionSeq[], shape: AttentionShape): void {
    let p = this.packed.get(seqs);
    if (!p) {
      p = packSeqs(seqs);
      this.packed.set(seqs, p);
    }
    const rows = q.length / (shape.numHeads * shape.headDim);
    this.kernels.attention(
      out, q, cache.k, cache.v, this.kv(cache.dtype), p.desc, p.tables, rows,
      shape.numHeads, shape.numKvHeads, shape.headDim, shape.blockSize, shape.slidingWindow, shape.scale,
      shape.softcap ?? 0, shape.sinks ?? null,
    );
  }

  // Computed as the reference backend does (the angle rounded to float32, then its cosine and sine),
  // so the native rotation is the reference's to the bit.
  private ropeTable(spec: RopeSpec, positions: number): RopeTable {
    const have = this.ropeTables.get(spec.invFreq);
    if (have && have.positions >= positions) return have;
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(positions)));
    const dim = spec.rotaryDim, half = dim / 2, factor = spec.attentionFactor ?? 1;
    const cosSin = new Float32Array(size * dim);
    for (let p = 0; p < size; p++) {
      for (let j = 0; j < half; j++) {
        const angle = Math.fround(p * spec.invFreq[j]!);
        cosSin[p * dim + j] = Math.fround(Math.cos(angle)) * factor;
        cosSin[p * dim + half + j] = Math.fround(Math.sin(angle)) * factor;
      }
    }
    const table = { cosSin, positions: size };
    this.ropeTables.set(spec.invFreq, table);
    return table;
  }

  /** Rows of float32 `src` [rows, k] written into `dst` in `dtype`'s layout, rounded as llama.cpp does. */
  quantizeRows(dst: Uint8Array, dtype: WeightDType, src: Float32Array, rows: number, k: number): void {
    if (NATIVE_QUANTIZERS.has(dtype)) this.kernels.quantizeRows(dst, this.code(dtype), src, rows, k);
    else dst.set(quantizeRowsReference(src, [rows, k], dtype).data);
  }
}

function packSeqs(seqs: readonly AttentionSeq[]): PackedSeqs {
  const desc = new Int32Array(seqs.length * 4);
  const tables = new Int32Array(seqs.reduce((n, s) => n + s.blockTable.length, 0));
  let off = 0;
  seqs.forEach((s, i) => {
    desc.set([s.queryStart, s.queryLen, s.contextLen, off], i * 4);
    tables.set(s.blockTable, off);
    off += s.blockTable.length;
  });
  return { desc, tables };
}
