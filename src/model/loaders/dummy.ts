// Random weights of a named shape (--load-format dummy): seeded normal numbers, norm gains of 1.

import { PRESETS } from '../presets.js';
import { UsageError } from '../../util/errors.js';
import type { ModelConfig } from '../config.js';
import { weightFromF32, type WeightTensor } from '../../kernels/tensor.js';
import type { LayerWeights, ModelWeights } from '../weights.js';
import { Rng } from '../../util/rng.js';

export function presetConfig(name: string): ModelConfig {
  const make = PRESETS[name];
  if (!make) throw new UsageError(`unknown preset "${name}"; available: ${Object.keys(PRESETS).join(', ')}`);
  return make();
}

export function dummyWeights(c: ModelConfig, seed = 0, std = 0.02): ModelWeights {
  const rng = new Rng(seed);
  const normal = (n: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - rng.next())) * std;
      const t = 2 * Math.PI * rng.next();
      out[i] = r * Math.cos(t);
      if (i + 1 < n) out[i + 1] = r * Math.sin(t);
    }
    return out;
  };
  const mat = (rows: number, cols: number): WeightTensor => weightFromF32(normal(rows * cols), [rows, cols]);
  const ones = (n: number) => new Float32Array(n).fill(1);
  const H = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const embed = mat(c.vocabSize, H);
  const layers: LayerWeights[] = Array.from({ length: c.numLayers }, () => ({
    attnNorm: ones(H), q: mat(qDim, H), k: mat(kvDim, H), v: mat(kvDim, H), o: mat(H, qDim), mlpNorm: ones(H),
    ...(c.qkvBias ? { qBias: normal(qDim), kBias: normal(kvDim), vBias: normal(kvDim) } : {}),
    ...(c.qkNorm ? { qNorm: ones(c.headDim), kNorm: ones(c.headDim) } : {}),
    ...(c.sandwichNorms ? { postAttnNorm: ones(H), postMlpNorm: ones(H) } : {}),
    mlp: { gate: mat(c.intermediateSize, H), up: mat(c.intermediateSize, H), down: mat(H, c.intermediateSize) },
  }));
  return { embed, layers, finalNorm: ones(H), lmHead: c.tieEmbeddings ? embed : mat(c.vocabSize, H) };
}
