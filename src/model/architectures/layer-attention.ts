// Per layer: which keys its queries see and how positions rotate them. Gemma alternates sliding and
// full layers with their own RoPE bases; Phi-3's LongRoPE switches to its long factors once a
// sequence is longer than the original context.

import type { AttentionShape, Backend, RopeSpec } from '../../kernels/backend.js';
import { ropeInvFreq, type ModelConfig, type RopeConfig } from '../config.js';
import type { ForwardBatch } from './decoder.js';

export interface LayerRope {
  short: RopeSpec;
  /** LongRoPE's long-factor spec, used by sequences with more than originalMaxPositions tokens. */
  long: RopeSpec | null;
  originalMaxPositions: number;
}

export interface LayerAttention {
  slidingWindow: number;
  rope: LayerRope | null;
}

function ropeOf(rope: RopeConfig): LayerRope {
  const s = rope.scaling;
  const spec = (long: boolean): RopeSpec => ({
    style: rope.style, rotaryDim: rope.rotaryDim, invFreq: ropeInvFreq(rope, long),
    ...(s?.type === 'longrope' || s?.type === 'yarn' ? { attentionFactor: s.attentionFactor } : {}),
  });
  return s?.type === 'longrope'
    ? { short: spec(false), long: spec(true), originalMaxPositions: s.originalMaxPositions }
    : { short: spec(false), long: null, originalMaxPositions: Infinity };
}

export function layerAttention(c: ModelConfig): LayerAttention[] {
  const global = c.rope ? ropeOf(c.rope) : null;
  const local = c.localRope ? ropeOf(c.localRope) : global;
  return Array.from({ length: c.numLayers }, (_, l) => {
    const sliding = c.slidingLayers ? c.slidingLayers[l]! : c.slidingWindow > 0;
    return { slidingWindow: sliding ? c.slidingWindow : 0, rope: sliding ? local : global };
  });
}

/**
 * Each layer's attention shape for a cache of blockSize-token blocks, built once per block size: spread
 * anew per layer and pass, the shapes were the decoder's largest JavaScript cost in a decode step.
 */
export class LayerShapes {
  private blockSize = 0;
  private shapes: AttentionShape[] = [];

  constructor(
    private readonly c: ModelConfig,
    private readonly layers: readonly LayerAttention[],
    private readonly sinks: readonly (Float32Array | undefined)[],
  ) {}

  forBlockSize(blockSize: number): readonly AttentionShape[] {
    if (blockSize !== this.blockSize) {
      const c = this.c;
      const base = {
        numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, scale: c.attnScale ?? 1 / Math.sqrt(c.headDim),
        ...(c.attnSoftcap ? { softcap: c.attnSoftcap } : {}),
      };
      this.shapes = this.layers.map((l, i) => ({ ...base, blockSize, slidingWindow: l.slidingWindow, ...(this.sinks[i] ? { sinks: this.sinks[i] } : {}) }));
      this.blockSize = blockSize;
    }
    return this.shapes;
  }
}

/**
 * Which LongRoPE factors a sequence with this prompt uses for its whole life: the long ones past the
 * original context. transformers decides per call by the longest position, which is the same for a
 * prompt (every chunk of it) but switches mid-generation without re-rotating the cached keys; here a
 * sequence keeps one set, so a step's keys never depend on batching, preemption or prefix hits.
 * '' when the model has no such choice.
 */
export function ropeRegime(layers: readonly LayerAttention[], promptLen: number): string {
  const rope = layers.find((l) => l.rope?.long)?.rope;
  return rope && promptLen > rope.originalMaxPositions ? 'longrope-long' : '';
}

/** Rotates q [rows, numHeads, headDim] and k [rows, numKvHeads, headDim] in place. */
export function applyRope(be: Backend, rope: LayerRope, q: Float32Array, k: Float32Array, batch: ForwardBatch, c: ModelConfig): void {
  const rows = batch.positions.length;
  if (!rope.long) {
    be.rope(q, batch.positions, rows, c.numHeads, c.headDim, rope.short);
    be.rope(k, batch.positions, rows, c.numKvHeads, c.headDim, rope.short);
    return;
  }
  const qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
  batch.seqs.forEach((seq, i) => {
    const spec = (batch.promptLens?.[i] ?? seq.contextLen) > rope.originalMaxPositions ? rope.long! : rope.short;
    const a = seq.queryStart, b = a + seq.queryLen;
    be.rope(q.subarray(a * qDim, b * qDim), batch.positions.subarray(a, b), seq.queryLen, c.numHeads, c.headDim, spec);
    be.rope(k.subarray(a * kvDim, b * kvDim), batch.positions.subarray(a, b), seq.queryLen, c.numKvHeads, c.headDim, spec);
  });
}
