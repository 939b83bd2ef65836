// One pipeline stage's part of a model: a run of consecutive layers, with the embedding on the first
// stage and the final norm and output head on the last (vLLM's split). The stage's model is an
// ordinary decoder over its layers alone (config.numLayers is its count, per-layer settings such as
// sliding windows are sliced with them), so its KV cache holds its layers only. The tensors of the
// other stages are never read, and their mapped pages are handed back.

import type { WeightTensor } from '../../kernels/tensor.js';
import type { ModelConfig } from '../config.js';
import type { ModelWeights } from '../weights.js';
import { UsageError } from '../../util/errors.js';

export interface PipelineStage {
  stage: number;
  size: number;
  /** Called with the data of each tensor this stage does not hold. */
  release?: (data: Uint8Array) => void;
}

export interface PipelineStageShard {
  config: ModelConfig;
  weights: ModelWeights;
  /** Layers [start, end) of the whole model. */
  layers: { start: number; end: number };
  first: boolean;
  last: boolean;
}

/**
 * Layers [start, end) of `stage`: an even split, the first (numLayers mod size) stages one longer;
 * then layers move from the last stage to stage 0 while that shortens the slowest stage, counting
 * the work each end does besides its layers, in layers' worth: the last stage runs the output head
 * (`headCost`), stage 0's rank samples and schedules every pass (`firstCost`). Stage 0 (whose rank
 * sizes the KV cache for all) so always holds the most layers.
 */
export function stageLayers(numLayers: number, stage: number, size: number, headCost = 0, firstCost = 0): { start: number; end: number } {
  if (numLayers < size) throw new UsageError(`--pipeline-parallel-size ${size} is more than the model's ${numLayers} layers`);
  const counts = Array.from({ length: size }, (_, s) => Math.floor(numLayers / size) + (s < numLayers % size ? 1 : 0));
  const slowest = (c: number[]) => Math.max(...c.map((n, s) => n + (s === size - 1 ? headCost : 0) + (s === 0 ? firstCost : 0)));
  while (size > 1 && counts[size - 1]! > 1) {
    const moved = [counts[0]! + 1, ...counts.slice(1, -1), counts[size - 1]! - 1];
    if (slowest(moved) >= slowest(counts)) break;
    counts.splice(0, size, ...moved);
  }
  const start = counts.slice(0, stage).reduce((a, b) => a + b, 0);
  return { start, end: start + counts[stage]! };
}

/**
 * A model's split into `size` stages. Rank 0's sampling and scheduling of a pass scale with the
 * vocabulary as the head does, and measured about as long (TinyLlama q8_0, batch 16 in two passes of
 * 8: ~8 ms a pass besides its layers, a layer ~6.4 ms, the head ~7 ms), so stage 0 is charged the
 * head's cost too.
 */
export function pipelineSplit(c: ModelConfig, stage: number, size: number): { start: number; end: number } {
  const head = headCostInLayers(c);
  return stageLayers(c.numLayers, stage, size, head, head);
}

/** The output head's matmul work in layers' worth (weights read per token, active experts only). */
export function headCostInLayers(c: ModelConfig): number {
  const attention = c.hiddenSize * c.headDim * 2 * (c.numHeads + c.numKvHeads);
  const mlp = 3 * c.hiddenSize * (c.moe ? c.moe.expertIntermediateSize * c.moe.topK : c.intermediateSize);
  return (c.vocabSize * c.hiddenSize) / (attention + mlp);
}

export function shardForPipeline(config: ModelConfig, weights: ModelWeights, p: PipelineStage): PipelineStageShard {
  const { start, end } = pipelineSplit(config, p.stage, p.size);
  const first = p.stage === 0;
  const last = p.stage === p.size - 1;
  if (p.release) {
    const keep = new Set<Uint8Array>();
    weights.layers.slice(start, end).forEach((l) => forEachTensor(l, (t) => keep.add(t.data)));
    if (first) keep.add(weights.embed.data);
    if (last) keep.add(weights.lmHead.data);
    const drop = (t: WeightTensor) => {
      if (!keep.has(t.data)) p.release!(t.data);
    };
    weights.layers.forEach((l, i) => (i < start || i >= end) && forEachTensor(l, drop));
    drop(weights.embed);
    drop(weights.lmHead);
    if (weights.posEmbed && !first) drop(weights.posEmbed);
  }
  return {
    config: { ...config, numLayers: end - start, ...(config.slidingLayers ? { slidingLayers: config.slidingLayers.slice(start, end) } : {}) },
    weights: { ...weights, layers: weights.layers.slice(start, end) },
    layers: { start, end },
    first,
    last,
  };
}

/** Every matrix in a layer's weights (the nested attention, MLP, MoE and MLA records included). */
function forEachTensor(node: unknown, fn: (t: WeightTensor) => void): void {
  if (node === null || typeof node !== 'object' || ArrayBuffer.isView(node)) return;
  if (Array.isArray(node)) {
    for (const n of node) forEachTensor(n, fn);
    return;
  }
  const o = node as Record<string, unknown>;
  if (o['data'] instanceof Uint8Array && Array.isArray(o['shape']) && typeof o['dtype'] === 'string') {
    fn(o as unknown as WeightTensor);
    return;
  }
  for (const v of Object.values(o)) forEachTensor(v, fn);
}
