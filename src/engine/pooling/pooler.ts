// Embedding requests: the prompt's final-normed hidden states pooled into one vector. A prompt may be
// computed in chunks over several steps (and from its start again after a preemption), so each step
// asks for the rows its pooling needs and folds them into the request's running state; the step that
// reaches the prompt's end yields the embedding.

import type { ModelPooling, PoolingType } from '../../model/pooling-config.js';
import { UsageError } from '../../util/errors.js';
import type { Request } from '../request.js';

export interface PoolingParams {
  type: PoolingType;
  /** L2-normalize the pooled vector (after cutting it to `dimensions`). */
  normalize: boolean;
  /** Matryoshka: keep the first `dimensions` values. */
  dimensions?: number;
}

/**
 * One request's pooling: the model's own (or the engine's --pooling), cut to `dimensions` where the
 * model was trained for it (Matryoshka), as vLLM allows.
 */
export function poolingFor(model: ModelPooling, hiddenSize: number, dimensions?: number): PoolingParams {
  if (dimensions === undefined || dimensions === hiddenSize) return { type: model.type, normalize: model.normalize };
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new UsageError(`dimensions must be a positive integer, not ${dimensions}`);
  if (model.matryoshka === null) throw new UsageError(`this model does not support matryoshka representations: dimensions must be left out or equal ${hiddenSize}`);
  if (dimensions > hiddenSize) throw new UsageError(`dimensions ${dimensions} is more than the model's ${hiddenSize}`);
  if (model.matryoshka.length > 0 && !model.matryoshka.includes(dimensions)) {
    throw new UsageError(`dimensions ${dimensions} is not one this model was trained for (${model.matryoshka.join(', ')})`);
  }
  return { type: model.type, normalize: model.normalize, dimensions };
}

/**
 * Which rows of a chunk of `numNew` tokens starting at prompt position `start` the pooling needs, as
 * [first, count] within the chunk.
 */
export function pooledRows(p: PoolingParams, start: number, numNew: number, reachesEnd: boolean): [number, number] {
  if (p.type === 'mean') return [0, numNew];
  if (p.type === 'cls') return start === 0 ? [0, 1] : [0, 0];
  return reachesEnd ? [numNew - 1, 1] : [0, 0];
}

/** Folds one chunk's pooled rows [count, hidden] into the request's state (restarted at position 0). */
export function accumulatePooled(req: Request, start: number, rows: Float32Array, hidden: number): void {
  if (start === 0 || !req.pooledSum) req.pooledSum = new Float64Array(hidden);
  const sum = req.pooledSum;
  for (let r = 0; r < rows.length; r += hidden) {
    for (let i = 0; i < hidden; i++) sum[i]! += rows[r + i]!;
  }
}

/** The request's embedding once its whole prompt has been computed. */
export function finishPooled(req: Request): Float32Array {
  const p = req.pooling!;
  const sum = req.pooledSum!;
  req.pooledSum = null;
  const out = sum.subarray(0, p.dimensions ?? sum.length);
  if (p.type === 'mean') for (let i = 0; i < out.length; i++) out[i]! /= req.numPromptTokens;
  if (p.normalize) {
    let ss = 0;
    for (let i = 0; i < out.length; i++) ss += out[i]! * out[i]!;
    // sentence-transformers' F.normalize: divide by max(norm, 1e-12).
    const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (let i = 0; i < out.length; i++) out[i]! *= inv;
  }
  return Float32Array.from(out);
}
