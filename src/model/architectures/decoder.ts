// The one decoder-only transformer behind every supported architecture. Llama, Mistral, Qwen2/3,
// their MoE variants, Gemma 2/3, Phi-3, gpt-oss, DeepSeek-V3 and GPT-2 differ only in ModelConfig
// flags read here (DeepSeek's latent attention in latent-attention.ts); the pass itself is shared.
// It runs one flat batch of tokens from any number of sequences (prefill chunks and decode tokens
// together) against a paged KV cache, and computes logits only for the rows that are sampled.

import type { AttentionSeq, AttentionShape, Backend, LayerKV } from '../../kernels/backend.js';
import type { ModelConfig } from '../config.js';
import { ActivationBuffers } from './activation-buffers.js';
import { latentAttention, type LatentAttentionContext } from './latent-attention.js';
import { applyRope, layerAttention, LayerShapes, ropeRegime, type LayerAttention } from './layer-attention.js';
import { prepareWeights, type FusedProjection, type PreparedLayer, type PreparedMlp, type PreparedMoe, type PreparedWeights } from './prepared-weights.js';
import type { LayerWeights, MlpWeights, ModelWeights } from '../weights.js';
import type { TensorParallelOps } from '../parallel/tensor-parallel-ops.js';

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
  /** Rows whose final-normed hidden states are wanted (embedding requests' pooling). */
  hiddenRows?: Int32Array;
  /** Per entry of seqs: its prompt's length (contextLen when absent), by which LongRoPE picks factors. */
  promptLens?: Int32Array;
}

const NO_HIDDEN = new Float32Array(0);

export class CausalLM {
  private readonly layerAttn: LayerAttention[];
  private readonly attnShapes: LayerShapes;
  private readonly buffers = new ActivationBuffers();
  /** The matmul weights as the backend holds them. */
  private readonly prepared: PreparedWeights;
  private readonly latentCtx: LatentAttentionContext;

  /**
   * `prepared`: the backend's handles for these weights, when made already (by another model, or by a
   * loader reporting progress). `tp`: this rank's group when config and weights are one rank's shard.
   */
  constructor(
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly backend: Backend,
    prepared?: PreparedWeights,
    private readonly tp?: TensorParallelOps,
  ) {
    this.layerAttn = layerAttention(config);
    this.attnShapes = new LayerShapes(config, this.layerAttn, weights.layers.map((w) => w.sinks));
    this.prepared = prepared ?? prepareWeights(weights, backend);
    this.latentCtx = { be: backend, buffers: this.buffers, config, project: this.project.bind(this) };
  }

  /**
   * The first `layers` layers with the final norm and head, sharing this model's prepared weights
   * (nothing is packed twice): a layer-skip draft, whose K/V are exactly this model's.
   */
  firstLayers(layers: number): CausalLM {
    return new CausalLM(
      { ...this.config, numLayers: layers },
      { ...this.weights, layers: this.weights.layers.slice(0, layers) },
      this.backend,
      { ...this.prepared, layers: this.prepared.layers.slice(0, layers) },
      this.tp,
    );
  }

  /**
   * What besides the tokens the K/V of a sequence with this prompt depend on ('' for most models):
   * the prefix cache keys its blocks with it.
   */
  prefixCacheSalt(promptLen: number): string {
    return ropeRegime(this.layerAttn, promptLen);
  }

  /** Returns logits [logitsRows.length, vocab]. `kv` holds one paged cache per layer. */
  forward(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): Float32Array {
    return this.forwardWithHidden(batch, kv, blockSize).logits;
  }

  /** Logits [logitsRows.length, vocab] and final-normed hidden states [hiddenRows.length, hidden]. */
  forwardWithHidden(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): { logits: Float32Array; hidden: Float32Array } {
    const h = this.embedTokens(batch);
    this.runLayers(h, batch, kv, blockSize);
    return this.outputs(h, batch);
  }

  // The pass in three parts, so that a pipeline stage runs only its own.

  /** The residual stream [rows, hidden] for `rows` tokens (a buffer reused by the next pass). */
  residualBuffer(rows: number): Float32Array {
    return this.buffers.get('hidden', rows * this.config.hiddenSize);
  }

  /** The residual stream entering the first layer: the tokens' embeddings. */
  embedTokens(batch: ForwardBatch): Float32Array {
    const [c, be, rows, H] = [this.config, this.backend, batch.tokenIds.length, this.config.hiddenSize];
    const h = this.residualBuffer(rows);
    if (this.tp) this.tp.embed(be, h, this.weights.embed, batch.tokenIds);
    else be.embedding(h, this.weights.embed, batch.tokenIds);
    if (c.embedScale !== undefined) scaleInPlace(h, c.embedScale, rows * H);
    if (this.weights.posEmbed) {
      const pos = new Float32Array(rows * H);
      be.embedding(pos, this.weights.posEmbed, batch.positions);
      be.add(h, pos, rows * H);
    }
    return h;
  }

  /** Runs every layer of this model on the residual stream `h` [rows, hidden], in place. */
  runLayers(h: Float32Array, batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): void {
    const c = this.config;
    const be = this.backend;
    const rows = batch.tokenIds.length;
    const H = c.hiddenSize;
    const x = this.buffers.get('normed', rows * H);
    const shapes = this.attnShapes.forBlockSize(blockSize);
    for (let l = 0; l < c.numLayers; l++) {
      const w = this.weights.layers[l]!;
      const pw = this.prepared.layers[l]!;
      this.norm(x, h, w.attnNorm, w.attnNormBias, rows);
      const attnShape = shapes[l]!;
      const a = c.mla
        ? latentAttention(this.latentCtx, x, w, pw, batch, kv[l]!, attnShape, this.layerAttn[l]!, rows)
        : this.attention(x, w, pw, batch, kv[l]!, attnShape, this.layerAttn[l]!, rows);
      this.tp?.reduce(a);
      if (w.postAttnNorm) this.norm(a, a, w.postAttnNorm, undefined, rows);
      be.add(h, a, rows * H);
      this.norm(x, h, w.mlpNorm, w.mlpNormBias, rows);
      const m = pw.moe ? this.moe(x, w, pw.moe, rows) : this.mlp(x, w.mlp!, pw.mlp!, rows);
      this.tp?.reduce(m);
      if (w.postMlpNorm) this.norm(m, m, w.postMlpNorm, undefined, rows);
      be.add(h, m, rows * H);
    }
  }

  /** Logits of logitsRows and final-normed hidden states of hiddenRows, from the last layer's stream `h`. */
  outputs(h: Float32Array, batch: ForwardBatch): { logits: Float32Array; hidden: Float32Array } {
    const [c, be, H] = [this.config, this.backend, this.config.hiddenSize];
    // Only the sampled rows go through the final norm and the (large) vocabulary projection.
    const n = batch.logitsRows.length;
    let logits: Float32Array = new Float32Array(0);
    if (n > 0) {
      const head = this.prepared.lmHead;
      if (!head) throw new Error('this model holds no output head (a pipeline stage before the last)');
      const last = this.finalNormed(h, batch.logitsRows, this.buffers.get('last', n * H));
      if (this.tp) logits = this.tp.logits(be, last, head, n);
      else be.matmul((logits = new Float32Array(n * c.vocabSize)), last, head, n);
      if (c.finalSoftcap) be.softcap(logits, logits.length, c.finalSoftcap);
    }
    const hr = batch.hiddenRows;
    return { logits, hidden: hr ? this.finalNormed(h, hr, new Float32Array(hr.length * H)) : NO_HIDDEN };
  }

  private finalNormed(h: Float32Array, rows: Int32Array, out: Float32Array): Float32Array {
    if (rows.length === 0) return out;
    this.backend.gatherRows(out, h, rows, this.config.hiddenSize);
    this.norm(out, out, this.weights.finalNorm, this.weights.finalNormBias, rows.length);
    return out;
  }

  private norm(out: Float32Array, x: Float32Array, gain: Float32Array, bias: Float32Array | undefined, rows: number): void {
    const c = this.config;
    if (c.norm === 'layer') this.backend.layerNorm(out, x, gain, bias!, rows, c.hiddenSize, c.normEps);
    else this.backend.rmsNorm(out, x, gain, rows, c.hiddenSize, c.normEps);
  }

  private attention(
    x: Float32Array, w: LayerWeights, pw: PreparedLayer, batch: ForwardBatch, cache: LayerKV, shape: AttentionShape, spec: LayerAttention, rows: number,
  ): Float32Array {
    const c = this.config;
    const be = this.backend;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const q = this.buffers.get('q', rows * qDim);
    const k = this.buffers.get('k', rows * kvDim);
    const v = this.buffers.get('v', rows * kvDim);
    this.project(x, pw.qkv, rows, [q, k, v]);
    if (w.qNorm && w.kNorm) {
      // Qwen3, Gemma 3: RMSNorm over each head's vector, before RoPE.
      be.rmsNorm(q, q, w.qNorm, rows * c.numHeads, c.headDim, c.normEps);
      be.rmsNorm(k, k, w.kNorm, rows * c.numKvHeads, c.headDim, c.normEps);
    }
    if (spec.rope) applyRope(be, spec.rope, q, k, batch, c);
    be.writeKV(cache, k, v, batch.slotMapping, rows, c.numKvHeads, c.headDim);
    const attn = this.buffers.get('attn', rows * qDim);
    be.attention(attn, q, cache, batch.seqs, shape);
    const out = this.buffers.get('attnOut', rows * c.hiddenSize);
    be.matmul(out, attn, pw.o, rows, w.oBias);
    return out;
  }

  // Fused projections (prepared-weights.ts): one matmul per part, its output rows split into `outs`.
  private project(x: Float32Array, parts: FusedProjection, rows: number, outs: Float32Array[]): void {
    let o = 0;
    for (const part of parts) {
      if (part.widths.length === 1) {
        this.backend.matmul(outs[o++]!, x, part.weight, rows, part.bias);
        continue;
      }
      const n = part.widths.reduce((a, b) => a + b, 0);
      const y = this.buffers.get('fused', rows * n);
      this.backend.matmul(y, x, part.weight, rows, part.bias);
      for (let r = 0; r < rows; r++) {
        let at = r * n;
        part.widths.forEach((width, i) => {
          outs[o + i]!.set(y.subarray(at, at + width), r * width);
          at += width;
        });
      }
      o += part.widths.length;
    }
  }

  private mlp(x: Float32Array, w: MlpWeights, pw: PreparedMlp, rows: number): Float32Array {
    const be = this.backend;
    const inter = w.up.shape[0]!;
    const up = this.buffers.get('up', rows * inter);
    const [fused] = pw.gateUp;
    const c = this.config;
    const act = c.mlp === 'gated-gelu' ? be.geluMul.bind(be)
      : c.mlp === 'gated-swiglu-oai' ? (o: Float32Array, g: Float32Array, u: Float32Array, n: number) => be.clampedSwiglu(o, g, u, n, c.swigluLimit ?? 7)
      : be.siluMul.bind(be);
    if (w.gate && pw.gateUp.length === 1) {
      // gate and up in one matmul: each row's act(gate) * up straight from it, no split copy.
      const y = this.buffers.get('gateUp', rows * 2 * inter);
      be.matmul(y, x, fused!.weight, rows, fused!.bias);
      for (let r = 0; r < rows; r++) {
        const row = y.subarray(2 * r * inter, 2 * (r + 1) * inter);
        act(up.subarray(r * inter, (r + 1) * inter), row.subarray(0, inter), row.subarray(inter), inter);
      }
    } else if (w.gate) {
      const gate = this.buffers.get('gate', rows * inter);
      this.project(x, pw.gateUp, rows, [gate, up]);
      act(up, gate, up, rows * inter);
    } else {
      this.project(x, pw.gateUp, rows, [up]);
      be.gelu(up, rows * inter);
    }
    const out = this.buffers.get('mlpOut', rows * this.config.hiddenSize);
    be.matmul(out, up, pw.down, rows, w.downBias);
    return out;
  }

  // Route each row to its top-k experts (a backend op), run each expert once on the rows routed to it,
  // add its output weighted back into those rows, and add the shared expert behind its sigmoid gate.
  private moe(x: Float32Array, w: LayerWeights, pw: PreparedMoe, rows: number): Float32Array {
    const moe = this.config.moe!;
    const H = this.config.hiddenSize;
    const be = this.backend;
    const E = moe.numExperts;
    const logits = new Float32Array(rows * E);
    be.matmul(logits, x, pw.router, rows, w.moe!.routerBias);
    const grouped = moe.grouped ? { ...moe.grouped, ...(w.moe!.scoreBias ? { bias: w.moe!.scoreBias } : {}) } : undefined;
    const routing = be.routeExperts(logits, rows, E, moe.topK, moe.normTopK, grouped);

    const out = new Float32Array(rows * H);
    for (let e = 0; e < E; e++) {
      const ids = routing.rows[e]!;
      const expert = w.moe!.experts[e];
      if (ids.length === 0 || !expert) continue;
      const xe = new Float32Array(ids.length * H);
      be.gatherRows(xe, x, ids, H);
      be.scatterAddRows(out, this.mlp(xe, expert, pw.experts[e]!, ids.length), ids, routing.weights[e]!, H);
    }

    if (pw.shared) {
      const ys = this.mlp(x, w.moe!.shared!, pw.shared, rows);
      const all = Int32Array.from({ length: rows }, (_, r) => r);
      let gate: Float64Array;
      if (pw.sharedGate) {
        const g = new Float32Array(rows);
        be.matmul(g, x, pw.sharedGate, rows);
        gate = be.sigmoid(g, rows);
      } else {
        gate = new Float64Array(rows).fill(1);
      }
      be.scatterAddRows(out, ys, all, gate, H);
    }
    return out;
  }
}

// Gemma scales its embeddings by sqrt(hidden) in float32.
function scaleInPlace(x: Float32Array, s: number, n: number): void {
  for (let i = 0; i < n; i++) x[i] = x[i]! * s;
}
