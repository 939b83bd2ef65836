// The one decoder-only transformer behind every supported architecture. Llama, Mistral, Qwen2/3,
// their MoE variants and GPT-2 differ only in ModelConfig flags read here; the pass itself is shared.
// It runs one flat batch of tokens from any number of sequences (prefill chunks and decode tokens
// together) against a paged KV cache, and computes logits only for the rows that are sampled.

import type { AttentionSeq, AttentionShape, Backend, LayerKV, RopeSpec } from '../../kernels/backend.js';
import type { WeightTensor } from '../../kernels/tensor.js';
import { ropeInvFreq, type ModelConfig } from '../config.js';
import { ActivationBuffers } from './activation-buffers.js';
import type { LayerWeights, MlpWeights, MoeWeights, ModelWeights } from '../weights.js';

export interface ForwardBatch {
  /** [rows] */
  tokenIds: Int32Array;
  /** [rows] absolute position of each token in its sequence */
  positions: Int32Array;
  /** [rows] cache slot (block * blockSize + offset) each token's K/V is written to */
  slotMapping: Int32Array;
  seqs: readonly AttentionSeq[];
  /** Rows whose logits are wanted (usually each sequence's last token). */
  logitsRows: Int32Array;
}

export class CausalLM {
  private readonly rope: RopeSpec | null;
  private readonly attnShapeBase: Omit<AttentionShape, 'blockSize'>;
  private readonly buffers = new ActivationBuffers();

  constructor(
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly backend: Backend,
  ) {
    this.rope = config.rope ? { style: config.rope.style, rotaryDim: config.rope.rotaryDim, invFreq: ropeInvFreq(config.rope) } : null;
    this.attnShapeBase = {
      numHeads: config.numHeads,
      numKvHeads: config.numKvHeads,
      headDim: config.headDim,
      scale: 1 / Math.sqrt(config.headDim),
      slidingWindow: config.slidingWindow,
    };
    if (backend.prepareWeight) for (const w of matmulWeights(weights)) backend.prepareWeight(w);
  }

  /** Returns logits [logitsRows.length, vocab]. `kv` holds one paged cache per layer. */
  forward(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): Float32Array {
    const c = this.config;
    const be = this.backend;
    const rows = batch.tokenIds.length;
    const H = c.hiddenSize;

    const h = this.buffers.get('hidden', rows * H);
    be.embedding(h, this.weights.embed, batch.tokenIds);
    if (this.weights.posEmbed) {
      const pos = new Float32Array(rows * H);
      be.embedding(pos, this.weights.posEmbed, batch.positions);
      be.add(h, pos, rows * H);
    }

    const attnShape: AttentionShape = { ...this.attnShapeBase, blockSize };
    const x = this.buffers.get('normed', rows * H);
    for (let l = 0; l < c.numLayers; l++) {
      const w = this.weights.layers[l]!;
      this.norm(x, h, w.attnNorm, w.attnNormBias, rows);
      be.add(h, this.attention(x, w, batch, kv[l]!, attnShape, rows), rows * H);
      this.norm(x, h, w.mlpNorm, w.mlpNormBias, rows);
      be.add(h, w.moe ? this.moe(x, w.moe, rows) : this.mlp(x, w.mlp!, rows), rows * H);
    }

    // Only the sampled rows go through the final norm and the (large) vocabulary projection.
    const n = batch.logitsRows.length;
    const last = this.buffers.get('last', n * H);
    for (let i = 0; i < n; i++) {
      const r = batch.logitsRows[i]!;
      last.set(h.subarray(r * H, (r + 1) * H), i * H);
    }
    this.norm(last, last, this.weights.finalNorm, this.weights.finalNormBias, n);
    const logits = new Float32Array(n * c.vocabSize);
    be.matmul(logits, last, this.weights.lmHead, n);
    return logits;
  }

  private norm(out: Float32Array, x: Float32Array, gain: Float32Array, bias: Float32Array | undefined, rows: number): void {
    const c = this.config;
    if (c.norm === 'layer') this.backend.layerNorm(out, x, gain, bias!, rows, c.hiddenSize, c.normEps);
    else this.backend.rmsNorm(out, x, gain, rows, c.hiddenSize, c.normEps);
  }

  private attention(x: Float32Array, w: LayerWeights, batch: ForwardBatch, cache: LayerKV, shape: AttentionShape, rows: number): Float32Array {
    const c = this.config;
    const be = this.backend;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const q = this.buffers.get('q', rows * qDim);
    const k = this.buffers.get('k', rows * kvDim);
    const v = this.buffers.get('v', rows * kvDim);
    be.matmul(q, x, w.q, rows, w.qBias);
    be.matmul(k, x, w.k, rows, w.kBias);
    be.matmul(v, x, w.v, rows, w.vBias);
    if (w.qNorm && w.kNorm) {
      // Qwen3: RMSNorm over each head's vector, before RoPE.
      be.rmsNorm(q, q, w.qNorm, rows * c.numHeads, c.headDim, c.normEps);
      be.rmsNorm(k, k, w.kNorm, rows * c.numKvHeads, c.headDim, c.normEps);
    }
    if (this.rope) {
      be.rope(q, batch.positions, rows, c.numHeads, c.headDim, this.rope);
      be.rope(k, batch.positions, rows, c.numKvHeads, c.headDim, this.rope);
    }
    be.writeKV(cache, k, v, batch.slotMapping, rows, c.numKvHeads, c.headDim);
    const attn = this.buffers.get('attn', rows * qDim);
    be.attention(attn, q, cache, batch.seqs, shape);
    const out = this.buffers.get('attnOut', rows * c.hiddenSize);
    be.matmul(out, attn, w.o, rows, w.oBias);
    return out;
  }

  private mlp(x: Float32Array, w: MlpWeights, rows: number): Float32Array {
    const be = this.backend;
    const inter = w.up.shape[0]!;
    const up = this.buffers.get('up', rows * inter);
    be.matmul(up, x, w.up, rows, w.upBias);
    if (w.gate) {
      const gate = this.buffers.get('gate', rows * inter);
      be.matmul(gate, x, w.gate, rows);
      be.siluMul(up, gate, up, rows * inter);
    } else {
      be.gelu(up, rows * inter);
    }
    const out = this.buffers.get('mlpOut', rows * this.config.hiddenSize);
    be.matmul(out, up, w.down, rows, w.downBias);
    return out;
  }

  // Softmax over all experts, keep the top k (renormalized when the model says so), run each expert
  // on the rows routed to it, and add the shared expert behind its sigmoid gate.
  private moe(x: Float32Array, w: MoeWeights, rows: number): Float32Array {
    const c = this.config;
    const moe = c.moe!;
    const H = c.hiddenSize;
    const be = this.backend;
    const E = moe.numExperts;
    const logits = new Float32Array(rows * E);
    be.matmul(logits, x, w.router, rows);

    const routed: { rows: number[]; weights: number[] }[] = Array.from({ length: E }, () => ({ rows: [], weights: [] }));
    const probs = new Float64Array(E);
    for (let r = 0; r < rows; r++) {
      let max = -Infinity;
      for (let e = 0; e < E; e++) max = Math.max(max, logits[r * E + e]!);
      let sum = 0;
      for (let e = 0; e < E; e++) sum += probs[e] = Math.exp(logits[r * E + e]! - max);
      for (let e = 0; e < E; e++) probs[e]! /= sum;
      const top = topKIndices(probs, moe.topK);
      const norm = moe.normTopK ? top.reduce((s, e) => s + probs[e]!, 0) : 1;
      for (const e of top) {
        routed[e]!.rows.push(r);
        routed[e]!.weights.push(probs[e]! / norm);
      }
    }

    const out = new Float32Array(rows * H);
    for (let e = 0; e < E; e++) {
      const { rows: er, weights: ew } = routed[e]!;
      if (er.length === 0) continue;
      const xe = new Float32Array(er.length * H);
      er.forEach((r, i) => xe.set(x.subarray(r * H, (r + 1) * H), i * H));
      const ye = this.mlp(xe, w.experts[e]!, er.length);
      er.forEach((r, i) => {
        for (let d = 0; d < H; d++) out[r * H + d] = out[r * H + d]! + ew[i]! * ye[i * H + d]!;
      });
    }

    if (w.shared) {
      const ys = this.mlp(x, w.shared, rows);
      const gate = new Float32Array(rows);
      if (w.sharedGate) be.matmul(gate, x, w.sharedGate, rows);
      for (let r = 0; r < rows; r++) {
        const g = w.sharedGate ? 1 / (1 + Math.exp(-gate[r]!)) : 1;
        for (let d = 0; d < H; d++) out[r * H + d] = out[r * H + d]! + g * ys[r * H + d]!;
      }
    }
    return out;
  }
}

/** Indices of the k largest values, largest first (ties to the lower index, as torch.topk). */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  return idx.slice(0, k);
}

/** Every weight the forward pass multiplies by, each once. */
function matmulWeights(weights: ModelWeights): Set<WeightTensor> {
  const out = new Set<WeightTensor>([weights.lmHead]);
  const mlp = (m: MlpWeights) => [m.gate, m.up, m.down].forEach((w) => w && out.add(w));
  for (const l of weights.layers) {
    [l.q, l.k, l.v, l.o].forEach((w) => out.add(w));
    if (l.mlp) mlp(l.mlp);
    if (l.moe) {
      out.add(l.moe.router);
      l.moe.experts.forEach(mlp);
      if (l.moe.shared) mlp(l.moe.shared);
      if (l.moe.sharedGate) out.add(l.moe.sharedGate);
    }
  }
  return out;
}
