// The reference backend: plain TypeScript, float32 storage with float64 accumulation, written to be
// read as the specification of each op. Optimized backends are tested against it.

import type { AttentionSeq, AttentionShape, Backend, ExpertRouting, GroupedRoutingSpec, LayerKV, PreparedWeight, RopeSpec } from '../backend.js';
import { routeExperts, routeExpertsGrouped, sigmoidWeights } from './expert-routing.js';
import { kvHeadBytes, kvRecordOffset } from '../kv-cache-dtype.js';
import { readHeadRecord, writeHeadRecord } from './kv-quant.js';
import { quantizeRowsReference } from '../quantize.js';
import { concatRows, dequantize, type WeightDType, type WeightTensor } from '../tensor.js';

export class ReferenceBackend implements Backend {
  readonly name = 'reference';

  quantizeRows(dst: Uint8Array, dtype: WeightDType, src: Float32Array, rows: number, k: number): void {
    dst.set(quantizeRowsReference(src, [rows, k], dtype).data);
  }

  // ---- matmul: out[rows, n] = x[rows, k] @ w[n, k]^T -------------------------------------------
  // Weights stay as stored; a row is dequantized at a time.
  prepareWeight(weights: WeightTensor | readonly WeightTensor[]): PreparedWeight & { tensor: WeightTensor } {
    const w = Array.isArray(weights) ? concatRows(weights) : (weights as WeightTensor);
    return { shape: [w.shape[0]!, w.shape[1]!], dtype: w.dtype, tensor: w };
  }

  matmul(out: Float32Array, x: Float32Array, prepared: PreparedWeight, rows: number, bias?: Float32Array): void {
    const w = (prepared as ReturnType<ReferenceBackend['prepareWeight']>).tensor;
    const [n, k] = prepared.shape;
    const wRow = new Float32Array(k);
    for (let j = 0; j < n; j++) {
      dequantize(w, j * k, k, wRow);
      const b = bias ? bias[j]! : 0;
      for (let r = 0; r < rows; r++) {
        const xo = r * k;
        let acc = 0;
        for (let i = 0; i < k; i++) acc += x[xo + i]! * wRow[i]!;
        out[r * n + j] = acc + b;
      }
    }
  }

  // ---- row movement and mixture of experts ------------------------------------------------------
  gatherRows(out: Float32Array, x: Float32Array, ids: Int32Array, dim: number): void {
    for (let i = 0; i < ids.length; i++) out.set(x.subarray(ids[i]! * dim, (ids[i]! + 1) * dim), i * dim);
  }

  scatterAddRows(out: Float32Array, y: Float32Array, ids: Int32Array, weights: Float64Array, dim: number): void {
    for (let i = 0; i < ids.length; i++) {
      const o = ids[i]! * dim, w = weights[i]!;
      for (let d = 0; d < dim; d++) out[o + d] = out[o + d]! + w * y[i * dim + d]!;
    }
  }

  sigmoid(x: Float32Array, n: number): Float64Array {
    return sigmoidWeights(x, n);
  }

  routeExperts(logits: Float32Array, rows: number, numExperts: number, topK: number, normTopK: boolean, grouped?: GroupedRoutingSpec): ExpertRouting {
    return grouped ? routeExpertsGrouped(logits, rows, numExperts, topK, normTopK, grouped) : routeExperts(logits, rows, numExperts, topK, normTopK);
  }

  // ---- normalization ---------------------------------------------------------------------------
  rmsNorm(out: Float32Array, x: Float32Array, gain: Float32Array, rows: number, dim: number, eps: number): void {
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[o + i]! * x[o + i]!;
      const inv = 1 / Math.sqrt(ss / dim + eps);
      for (let i = 0; i < dim; i++) out[o + i] = x[o + i]! * inv * gain[i]!;
    }
  }

  layerNorm(out: Float32Array, x: Float32Array, gain: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number): void {
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      let mean = 0;
      for (let i = 0; i < dim; i++) mean += x[o + i]!;
      mean /= dim;
      let variance = 0;
      for (let i = 0; i < dim; i++) variance += (x[o + i]! - mean) ** 2;
      const inv = 1 / Math.sqrt(variance / dim + eps);
      for (let i = 0; i < dim; i++) out[o + i] = (x[o + i]! - mean) * inv * gain[i]! + bias[i]!;
    }
  }

  // ---- rotary position embedding ---------------------------------------------------------------
  // neox (HF rotate_half) pairs dims (j, j + rotaryDim/2); interleaved (llama.cpp, llama2.c) pairs
  // (2j, 2j + 1). Angles are rounded to float32 as transformers computes them.
  rope(x: Float32Array, positions: Int32Array, rows: number, numHeads: number, headDim: number, spec: RopeSpec): void {
    const half = spec.rotaryDim / 2;
    const factor = spec.attentionFactor ?? 1;
    for (let r = 0; r < rows; r++) {
      const pos = positions[r]!;
      for (let h = 0; h < numHeads; h++) {
        const base = (r * numHeads + h) * headDim;
        for (let j = 0; j < half; j++) {
          const angle = Math.fround(pos * spec.invFreq[j]!);
          const cos = Math.fround(Math.fround(Math.cos(angle)) * factor);
          const sin = Math.fround(Math.fround(Math.sin(angle)) * factor);
          const a = spec.style === 'neox' ? base + j : base + 2 * j;
          const b = spec.style === 'neox' ? base + j + half : base + 2 * j + 1;
          const x0 = x[a]!;
          const x1 = x[b]!;
          x[a] = x0 * cos - x1 * sin;
          x[b] = x1 * cos + x0 * sin;
        }
      }
    }
  }

  // ---- activations -----------------------------------------------------------------------------
  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    for (let i = 0; i < n; i++) {
      const g = gate[i]!;
      out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
    }
  }

  softcap(x: Float32Array, n: number, cap: number): void {
    for (let i = 0; i < n; i++) x[i] = cap * Math.tanh(x[i]! / cap);
  }

  gelu(x: Float32Array, n: number): void {
    for (let i = 0; i < n; i++) x[i] = geluTanh(x[i]!);
  }

  clampedSwiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number, limit: number): void {
    for (let i = 0; i < n; i++) {
      const g = Math.min(gate[i]!, limit), u = Math.min(Math.max(up[i]!, -limit), limit);
      out[i] = (u + 1) * (g / (1 + Math.exp(-g * 1.702)));
    }
  }

  geluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    for (let i = 0; i < n; i++) out[i] = geluTanh(gate[i]!) * up[i]!;
  }

  embedding(out: Float32Array, table: WeightTensor, ids: Int32Array): void {
    const dim = table.shape[1]!;
    const vocab = table.shape[0]!;
    for (let r = 0; r < ids.length; r++) {
      const id = ids[r]!;
      if (id < 0 || id >= vocab) throw new RangeError(`token id ${id} is outside the vocabulary (0..${vocab - 1})`);
      dequantize(table, id * dim, dim, out.subarray(r * dim, (r + 1) * dim));
    }
  }

  add(x: Float32Array, y: Float32Array, n: number): void {
    for (let i = 0; i < n; i++) x[i] = x[i]! + y[i]!;
  }

  // ---- paged KV cache --------------------------------------------------------------------------
  writeKV(cache: LayerKV, k: Float32Array, v: Float32Array, slotMapping: Int32Array, rows: number, numKvHeads: number, headDim: number): void {
    const headBytes = kvHeadBytes(cache.dtype, headDim);
    const blockBytes = numKvHeads * headBytes * cache.blockSize;
    for (let r = 0; r < rows; r++) {
      const slot = slotMapping[r]!;
      if (slot < 0) continue;
      if ((Math.floor(slot / cache.blockSize) + 1) * blockBytes > Math.min(cache.k.length, cache.v.length)) throw new RangeError(`writeKV: slot ${slot} is outside the cache`);
      for (let h = 0; h < numKvHeads; h++) {
        const src = (r * numKvHeads + h) * headDim;
        const at = kvRecordOffset(slot, h, cache.blockSize, numKvHeads, headBytes);
        writeHeadRecord(cache.dtype, k, src, headDim, cache.k, at);
        writeHeadRecord(cache.dtype, v, src, headDim, cache.v, at);
      }
    }
  }

  // Online softmax (one pass over the keys, running max and sum), so no score matrix is built. Each key
  // and value is read back from its record as it is visited.
  attention(out: Float32Array, q: Float32Array, cache: LayerKV, seqs: readonly AttentionSeq[], s: AttentionShape): void {
    const { numHeads, numKvHeads, headDim, blockSize, scale, slidingWindow } = s;
    const cap = s.softcap ?? 0;
    const group = numHeads / numKvHeads;
    const headBytes = kvHeadBytes(cache.dtype, headDim);
    const acc = new Float64Array(headDim);
    const key = new Float32Array(headDim);
    const value = new Float32Array(headDim);
    for (const seq of seqs) {
      for (let i = 0; i < seq.queryLen; i++) {
        const row = seq.queryStart + i;
        const pos = seq.contextLen - seq.queryLen + i;
        const first = slidingWindow > 0 ? Math.max(0, pos - slidingWindow + 1) : 0;
        for (let h = 0; h < numHeads; h++) {
          const kvh = Math.floor(h / group);
          const qo = (row * numHeads + h) * headDim;
          let max = -Infinity;
          let sum = 0;
          acc.fill(0);
          for (let j = first; j <= pos; j++) {
            const slot = seq.blockTable[Math.floor(j / blockSize)]! * blockSize + (j % blockSize);
            const at = kvRecordOffset(slot, kvh, blockSize, numKvHeads, headBytes);
            readHeadRecord(cache.dtype, cache.k, at, headDim, key);
            readHeadRecord(cache.dtype, cache.v, at, headDim, value);
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += q[qo + d]! * key[d]!;
            const score = cap > 0 ? cap * Math.tanh((dot * scale) / cap) : dot * scale;
            const newMax = Math.max(max, score);
            const correction = Math.exp(max - newMax);
            const p = Math.exp(score - newMax);
            sum = sum * correction + p;
            for (let d = 0; d < headDim; d++) acc[d] = acc[d]! * correction + p * value[d]!;
            max = newMax;
          }
          if (s.sinks) {
            const sink = s.sinks[h]!, m = Math.max(max, sink), c = Math.exp(max - m);
            sum = sum * c + Math.exp(sink - m);
            for (let d = 0; d < headDim; d++) acc[d] = acc[d]! * c;
          }
          for (let d = 0; d < headDim; d++) out[qo + d] = acc[d]! / sum;
        }
      }
    }
  }
}

// The tanh approximation of GELU (GPT-2's gelu_new, Gemma's gelu_pytorch_tanh).
function geluTanh(v: number): number {
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
}
