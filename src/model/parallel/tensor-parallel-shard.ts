// Megatron's split of one model over a tensor-parallel group, as vLLM and nano-vllm do it: q/k/v and
// gate/up are column-parallel (each rank keeps a slice of their output rows), o and down are
// row-parallel (a slice of their input columns, so each rank's product is a partial sum that the
// group all-reduces), the embedding and the output head are split by vocabulary. KV heads are divided
// among the ranks, or replicated when there are fewer of them than ranks. MoE experts are each split
// the same way, or with expert parallelism kept whole on one rank each (numExperts / N per rank).
// Slices are views of the loaded tensors where the bytes are contiguous (rows); a column slice
// copies only this rank's columns, so a rank holds about 1/N of the matrices.

import { byteSize, type WeightTensor } from '../../kernels/tensor.js';
import { WEIGHT_FORMATS } from '../../kernels/formats.js';
import type { ModelConfig } from '../config.js';
import type { LayerWeights, MlpWeights, ModelWeights, MoeWeights } from '../weights.js';
import { UsageError } from '../../util/errors.js';

export interface TensorParallelRank {
  rank: number;
  size: number;
  /** MoE experts whole on one rank each instead of each split over all. */
  expertParallel: boolean;
  /** Called with each whole tensor a column slice was copied from: its pages are no longer needed. */
  release?: (data: Uint8Array) => void;
}

/** This rank's slice of the vocabulary: rows [start, end) of the embedding and the head, `chunk` = ceil(vocab / size). */
export interface VocabShard {
  start: number;
  end: number;
  chunk: number;
}

export interface TensorParallelShard {
  /** The model as this rank runs it: its own numbers of heads and KV heads. */
  config: ModelConfig;
  weights: ModelWeights;
  vocab: VocabShard;
  /** With expert parallelism, the experts this rank holds (the others are absent from its weights). */
  experts?: { start: number; end: number };
}

export function shardForTensorParallel(config: ModelConfig, weights: ModelWeights, tp: TensorParallelRank): TensorParallelShard {
  const { rank, size } = tp;
  if (config.numHeads % size !== 0) throw new UsageError(`--tensor-parallel-size ${size} must divide the model's ${config.numHeads} attention heads`);
  // Latent attention's one KV record per token is shared by every head: each rank keeps all of it.
  const kvReplicated = config.numKvHeads < size || config.mla !== undefined;
  if (!config.mla && (kvReplicated ? size % config.numKvHeads !== 0 : config.numKvHeads % size !== 0)) {
    throw new UsageError(`--tensor-parallel-size ${size} and the model's ${config.numKvHeads} KV heads: one must divide the other`);
  }
  const heads = config.numHeads / size;
  const kvHeads = kvReplicated ? 1 : config.numKvHeads / size;
  // With replicated KV heads, this rank's query heads all read one KV head.
  const kvStart = kvReplicated ? Math.floor((rank * heads) / (config.numHeads / config.numKvHeads)) : rank * kvHeads;
  const D = config.headDim;
  const chunk = Math.ceil(config.vocabSize / size);
  const vocab = { start: Math.min(rank * chunk, config.vocabSize), end: Math.min((rank + 1) * chunk, config.vocabSize), chunk };
  const ep = tp.expertParallel && config.moe ? expertRange(config.moe.numExperts, tp) : undefined;

  const cols = (w: WeightTensor, a: number, b: number): WeightTensor => {
    const slice = sliceColumns(w, a, b);
    tp.release?.(w.data);
    return slice;
  };
  const part = (n: number) => [(rank * n) / size, ((rank + 1) * n) / size] as const;
  const mlp = (m: MlpWeights, keepBias: boolean): MlpWeights => {
    const inter = m.up.shape[0]!;
    if (inter % size !== 0) throw new UsageError(`--tensor-parallel-size ${size} must divide the MLP width ${inter}`);
    const [a, b] = part(inter);
    return {
      ...(m.gate ? { gate: sliceRows(m.gate, a, b) } : {}),
      up: sliceRows(m.up, a, b),
      down: cols(m.down, a, b),
      ...(m.gateBias ? { gateBias: m.gateBias.subarray(a, b) } : {}),
      ...(m.upBias ? { upBias: m.upBias.subarray(a, b) } : {}),
      ...(m.downBias && keepBias ? { downBias: m.downBias } : {}),
    };
  };
  const moe = (m: MoeWeights): MoeWeights => ({
    ...m,
    experts: m.experts.map((e, i) => !e || (ep && (i < ep.start || i >= ep.end)) ? null : ep ? e : mlp(e, rank === 0)),
    ...(m.shared ? { shared: mlp(m.shared, rank === 0) } : {}),
  });
  const latent = (w: LayerWeights): LayerWeights => {
    const m = config.mla!;
    const qk = m.qkNopeDim + m.qkRopeDim;
    const perHead = w.mla!.headShape.nope + w.mla!.headShape.v;
    const [q0, q1] = [rank * heads * qk, (rank + 1) * heads * qk];
    const out: LayerWeights = {
      ...w,
      // Without a q rank, q itself is per head; with one, q_a is shared and q_b per head.
      q: m.qLoraRank ? w.q : sliceRows(w.q, q0, q1),
      mla: {
        ...w.mla!,
        ...(w.mla!.qB ? { qB: sliceRows(w.mla!.qB, q0, q1) } : {}),
        kvB: sliceRows(w.mla!.kvB, rank * heads * perHead, (rank + 1) * heads * perHead),
        headShape: { ...w.mla!.headShape, heads },
      },
      o: cols(w.o, rank * heads * m.vHeadDim, (rank + 1) * heads * m.vHeadDim),
    };
    return out;
  };
  const layer = (w: LayerWeights): LayerWeights => {
    const [q0, q1] = [rank * heads * D, (rank + 1) * heads * D];
    const [k0, k1] = [kvStart * D, (kvStart + kvHeads) * D];
    const out: LayerWeights = w.mla ? latent(w) : {
      ...w,
      q: sliceRows(w.q, q0, q1),
      k: sliceRows(w.k, k0, k1),
      ...(w.v ? { v: sliceRows(w.v, k0, k1) } : {}),
      o: cols(w.o, q0, q1),
      ...(w.qBias ? { qBias: w.qBias.subarray(q0, q1) } : {}),
      ...(w.kBias ? { kBias: w.kBias.subarray(k0, k1) } : {}),
      ...(w.vBias ? { vBias: w.vBias.subarray(k0, k1) } : {}),
      ...(w.sinks ? { sinks: w.sinks.subarray(rank * heads, (rank + 1) * heads) } : {}),
    };
    // Row-parallel biases are added once, by rank 0, not once per rank.
    if (rank !== 0) delete out.oBias;
    if (w.mlp) out.mlp = mlp(w.mlp, rank === 0);
    if (w.moe) out.moe = moe(w.moe);
    return out;
  };

  const embed = sliceRows(weights.embed, vocab.start, vocab.end);
  return {
    config: { ...config, numHeads: heads, numKvHeads: config.mla ? config.numKvHeads : kvHeads },
    weights: {
      ...weights,
      embed,
      lmHead: weights.lmHead === weights.embed ? embed : sliceRows(weights.lmHead, vocab.start, vocab.end),
      layers: weights.layers.map(layer),
    },
    vocab,
    ...(ep ? { experts: ep } : {}),
  };
}

function expertRange(numExperts: number, tp: TensorParallelRank): { start: number; end: number } {
  if (numExperts % tp.size !== 0) throw new UsageError(`--enable-expert-parallel: ${tp.size} ranks must divide the model's ${numExperts} experts`);
  const per = numExperts / tp.size;
  return { start: tp.rank * per, end: (tp.rank + 1) * per };
}

/** Rows [a, b) of a [rows, cols] matrix: a view, no copy. */
export function sliceRows(w: WeightTensor, a: number, b: number): WeightTensor {
  const cols = w.shape[1]!;
  const rowBytes = byteSize(w.dtype, cols);
  return { dtype: w.dtype, shape: [b - a, cols], data: w.data.subarray(a * rowBytes, b * rowBytes) };
}

/** Columns [a, b) of every row: a copy of this rank's part only. Block formats split on block boundaries. */
export function sliceColumns(w: WeightTensor, a: number, b: number): WeightTensor {
  const [rows, cols] = [w.shape[0]!, w.shape[1]!];
  const block = WEIGHT_FORMATS[w.dtype].blockSize;
  if (a % block !== 0 || b % block !== 0) {
    throw new UsageError(`tensor parallelism: a ${w.dtype} matrix [${rows}, ${cols}] cannot be split at column ${a % block !== 0 ? a : b} (blocks of ${block}): use fewer ranks`);
  }
  const rowBytes = byteSize(w.dtype, cols);
  const [from, width] = [byteSize(w.dtype, a), byteSize(w.dtype, b - a)];
  const data = new Uint8Array(rows * width);
  for (let r = 0; r < rows; r++) data.set(w.data.subarray(r * rowBytes + from, r * rowBytes + from + width), r * width);
  return { dtype: w.dtype, shape: [rows, b - a], data };
}
