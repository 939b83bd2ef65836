// The inference math of one model split over tp x pp ranks, each with the given hardware: a rank
// holds 1/tp of each of its layers' weights (the Megatron split) and 1/pp of the layers, and its
// share of the KV cache (its KV heads; every head when there are fewer KV heads than ranks, and the
// whole latent record under MLA). A decode step costs its compute or memory time (the larger) on
// 1/tp of the work, through every stage in turn, plus its communication: with tensor parallelism two
// all-reduces of batch x hidden float32 per layer (after o and after down), one for the embedding
// and an all-gather of the logits; with pipeline parallelism one activation send per stage boundary;
// either way rank 0's broadcast of the step's plan (a header, then the batch's token ids, positions,
// slots and block tables: src/engine/parallel/step-plan.ts).
// A ring all-reduce over n ranks moves 2(n-1)/n of the buffer in 2(n-1) latency-bound hops.

import type { ModelConfig } from '../model/config.js';
import type { Hardware } from './hardware.js';
import { decodeStep, type WorkloadShape } from './roofline.js';

export interface ParallelLink {
  /** Bytes per second one rank sends to another. */
  bandwidth: number;
  /** Seconds from one rank's send to the other's receive of a small message. */
  latency: number;
}

export interface ParallelLayout {
  tp: number;
  pp: number;
  weightBytesPerRank: number;
  kvBytesPerRank: number;
  /** One decode step of `batch` sequences: compute or memory through all stages, and communication. */
  computeOrMemorySeconds: number;
  commSeconds: number;
  stepSeconds: number;
  tokensPerSecond: number;
  allReducesPerStep: number;
}

const FLOAT = 4;

export function allReduceSeconds(bytes: number, ranks: number, link: ParallelLink): number {
  return ranks <= 1 ? 0 : 2 * (ranks - 1) * link.latency + (2 * (ranks - 1) / ranks) * (bytes / link.bandwidth);
}

export function allGatherSeconds(bytesPerRank: number, ranks: number, link: ParallelLink): number {
  return ranks <= 1 ? 0 : (ranks - 1) * (link.latency + bytesPerRank / link.bandwidth);
}

/** Rank 0's two broadcasts of a step's plan (header, then payload) to the other ranks. */
export function planBroadcastSeconds(batch: number, context: number, ranks: number, link: ParallelLink): number {
  if (ranks <= 1) return 0;
  const payload = 4 * (5 + 7 * batch + batch * Math.ceil(context / 16));
  return 2 * link.latency + ((ranks - 1) * (8 + payload)) / link.bandwidth;
}

/** The share of the KV cache one tensor-parallel rank holds. */
export function kvShare(c: ModelConfig, tp: number): number {
  if (c.mla) return 1;
  return c.numKvHeads >= tp ? 1 / tp : 1 / c.numKvHeads;
}

export function parallelLayout(
  c: ModelConfig, hw: Hardware, w: WorkloadShape, batch: number, tp: number, pp: number, link: ParallelLink,
): ParallelLayout {
  const one = decodeStep(c, hw, w, batch);
  const computeOrMemorySeconds = Math.max(one.computeSeconds, one.memorySeconds) / tp;
  const act = batch * c.hiddenSize * FLOAT;
  const allReducesPerStep = tp > 1 ? 2 * c.numLayers + 1 : 0;
  const tpComm = allReducesPerStep * allReduceSeconds(act, tp, link) + allGatherSeconds((batch * Math.ceil(c.vocabSize / tp) * FLOAT), tp, link);
  const ppComm = (pp - 1) * (link.latency + act / link.bandwidth);
  const commSeconds = tpComm + ppComm + planBroadcastSeconds(batch, w.context, tp * pp, link);
  const stepSeconds = computeOrMemorySeconds + commSeconds;
  return {
    tp, pp,
    weightBytesPerRank: w.weightBytes / (tp * pp),
    kvBytesPerRank: (batch * w.context * w.kvBytesPerToken * kvShare(c, tp)) / pp,
    computeOrMemorySeconds, commSeconds, stepSeconds,
    tokensPerSecond: batch / stepSeconds,
    allReducesPerStep,
  };
}
