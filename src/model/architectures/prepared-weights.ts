// The model's matmul weights as the backend holds them: each one handed to Backend.prepareWeight once,
// when the model is built, and the handles kept in the shape of ModelWeights. Vectors (norms, biases)
// and the embedding table stay as loaded.
//
// Projections that read the same input are fused: q, k and v into one weight, gate and up into
// another, wherever they share a storage format (a mixed file such as Q4_K_M may store v in Q6_K
// beside a Q4_K q and k; then q and k fuse and v stays alone). One matmul of [q; k; v] reads the input
// once and makes one kernel call instead of three, which in batch-1 decode is most of what separates
// a layer from its weight-streaming time.

import type { Backend, PreparedWeight } from '../../kernels/backend.js';
import type { WeightTensor } from '../../kernels/tensor.js';
import type { LayerWeights, MlaWeights, MlpWeights, ModelWeights } from '../weights.js';
import { dequantize, weightFromF32 } from '../../kernels/tensor.js';

/** One matmul whose output rows hold several projections side by side: `widths` columns each. */
export interface FusedPart {
  weight: PreparedWeight;
  widths: number[];
  bias?: Float32Array;
}

/** Projections of one input, as few matmuls as their formats allow, in the order given. */
export type FusedProjection = FusedPart[];

export interface PreparedMlp {
  /** [gate, up] (or [up] without a gate) */
  gateUp: FusedProjection;
  down: PreparedWeight;
}

export interface PreparedMoe {
  router: PreparedWeight;
  experts: (PreparedMlp | null)[];
  shared?: PreparedMlp;
  sharedGate?: PreparedWeight;
}

/** MLA's up-projections, kv_b split per head so the key part can be absorbed into the query. */
export interface PreparedMla {
  qB?: PreparedWeight;
  /** Per head: [kvLoraRank, nope], maps the head's no-RoPE query into the latent space. */
  keyUp: PreparedWeight[];
  /** Per head: [vHeadDim, kvLoraRank], maps attention over latents to the head's values. */
  valueUp: PreparedWeight[];
}

export interface PreparedLayer {
  /** [q, k, v] (MLA: [q, k]) */
  qkv: FusedProjection;
  o: PreparedWeight;
  mla?: PreparedMla;
  mlp?: PreparedMlp;
  moe?: PreparedMoe;
}

export interface PreparedWeights {
  layers: PreparedLayer[];
  /** Null for a pipeline stage before the last, which never computes logits. */
  lmHead: PreparedWeight | null;
}

type Prepare = (w: WeightTensor | readonly WeightTensor[]) => PreparedWeight;

/** Prepares each run of consecutive same-format matrices as one weight, their rows stacked. */
function fuseProjections(prepare: Prepare, mats: readonly WeightTensor[], biases: readonly (Float32Array | undefined)[]): FusedProjection {
  const parts: FusedProjection = [];
  let i = 0;
  while (i < mats.length) {
    let j = i + 1;
    while (j < mats.length && mats[j]!.dtype === mats[i]!.dtype) j++;
    const run = mats.slice(i, j);
    const widths = run.map((m) => m.shape[0]!);
    const runBiases = biases.slice(i, j);
    let bias: Float32Array | undefined;
    if (runBiases.some((b) => b)) {
      bias = new Float32Array(widths.reduce((a, b) => a + b, 0));
      let at = 0;
      runBiases.forEach((b, r) => {
        if (b) bias!.set(b, at);
        at += widths[r]!;
      });
    }
    parts.push({ weight: prepare(run.length === 1 ? run[0]! : run), widths, ...(bias ? { bias } : {}) });
    i = j;
  }
  return parts;
}

const NO_BYTES = new Uint8Array(0);

/**
 * `onLayer` hears of each layer packed: the first touch of a mapped file's pages, the slow part of a load.
 * `withHead` false leaves the output head unprepared (a pipeline stage that never computes logits).
 * `releaseOriginals`: the caller owns `weights` and only runs them through the model built from these:
 * a matrix the backend copied into its own layout is dropped from `weights` (its data emptied, its
 * format and shape kept), so weights held in memory (random, or converted at load) are not resident
 * twice. The embedding table always stays: rows are read from it.
 */
export function prepareWeights(weights: ModelWeights, backend: Backend, onLayer?: (done: number, total: number) => void, withHead = true, releaseOriginals = false): PreparedWeights {
  const p: Prepare = (w) => {
    const prepared = backend.prepareWeight(w);
    if (releaseOriginals && prepared.ownsCopy) for (const m of Array.isArray(w) ? w : [w]) if (m !== weights.embed) (m as WeightTensor).data = NO_BYTES;
    return prepared;
  };
  const mlp = (m: MlpWeights): PreparedMlp => ({
    gateUp: m.gate ? fuseProjections(p, [m.gate, m.up], [m.gateBias, m.upBias]) : fuseProjections(p, [m.up], [m.upBias]),
    down: p(m.down),
  });
  const layer = (l: LayerWeights): PreparedLayer => ({
    qkv: l.v ? fuseProjections(p, [l.q, l.k, l.v], [l.qBias, l.kBias, l.vBias]) : fuseProjections(p, [l.q, l.k], [l.qBias, l.kBias]),
    o: p(l.o),
    ...(l.mla ? { mla: prepareMla(backend, l.mla) } : {}),
    ...(l.mlp ? { mlp: mlp(l.mlp) } : {}),
    ...(l.moe ? {
      moe: {
        router: p(l.moe.router),
        experts: l.moe.experts.map((e) => e && mlp(e)),
        ...(l.moe.shared ? { shared: mlp(l.moe.shared) } : {}),
        ...(l.moe.sharedGate ? { sharedGate: p(l.moe.sharedGate) } : {}),
      },
    } : {}),
  });
  const layers = weights.layers.map((l, i) => {
    const prepared = layer(l);
    onLayer?.(i + 1, weights.layers.length);
    return prepared;
  });
  return { layers, lmHead: withHead ? p(weights.lmHead) : null };
}

// kv_b's rows are, per head, nope key rows then v value rows over the latent. The key rows are
// transposed (the query is multiplied by them from the other side); both stay float32.
function prepareMla(backend: Backend, w: MlaWeights): PreparedMla {
  const [rows, rank] = w.kvB.shape as [number, number];
  const all = new Float32Array(rows * rank);
  dequantize(w.kvB, 0, rows * rank, all);
  const { nope, v, heads } = w.headShape;
  const keyUp: PreparedWeight[] = [], valueUp: PreparedWeight[] = [];
  for (let h = 0; h < heads; h++) {
    const base = h * (nope + v) * rank;
    const kT = new Float32Array(rank * nope);
    for (let d = 0; d < nope; d++) for (let r = 0; r < rank; r++) kT[r * nope + d] = all[base + d * rank + r]!;
    keyUp.push(backend.prepareWeight(weightFromF32(kT, [rank, nope])));
    valueUp.push(backend.prepareWeight(weightFromF32(all.slice(base + nope * rank, base + (nope + v) * rank), [v, rank])));
  }
  return { ...(w.qB ? { qB: backend.prepareWeight(w.qB) } : {}), keyUp, valueUp };
}
