// The model's matmul weights as the backend holds them: each one handed to Backend.prepareWeight once,
// when the model is built, and the handles kept in the shape of ModelWeights. Vectors (norms, biases)
// and the embedding table stay as loaded.

import type { Backend, PreparedWeight } from '../../kernels/backend.js';
import type { LayerWeights, MlpWeights, ModelWeights } from '../weights.js';

export interface PreparedMlp {
  gate?: PreparedWeight;
  up: PreparedWeight;
  down: PreparedWeight;
}

export interface PreparedMoe {
  router: PreparedWeight;
  experts: PreparedMlp[];
  shared?: PreparedMlp;
  sharedGate?: PreparedWeight;
}

export interface PreparedLayer {
  q: PreparedWeight;
  k: PreparedWeight;
  v: PreparedWeight;
  o: PreparedWeight;
  mlp?: PreparedMlp;
  moe?: PreparedMoe;
}

export interface PreparedWeights {
  layers: PreparedLayer[];
  lmHead: PreparedWeight;
}

export function prepareWeights(weights: ModelWeights, backend: Backend): PreparedWeights {
  const p = backend.prepareWeight.bind(backend);
  const mlp = (m: MlpWeights): PreparedMlp => ({ ...(m.gate ? { gate: p(m.gate) } : {}), up: p(m.up), down: p(m.down) });
  const layer = (l: LayerWeights): PreparedLayer => ({
    q: p(l.q), k: p(l.k), v: p(l.v), o: p(l.o),
    ...(l.mlp ? { mlp: mlp(l.mlp) } : {}),
    ...(l.moe ? {
      moe: {
        router: p(l.moe.router),
        experts: l.moe.experts.map(mlp),
        ...(l.moe.shared ? { shared: mlp(l.moe.shared) } : {}),
        ...(l.moe.sharedGate ? { sharedGate: p(l.moe.sharedGate) } : {}),
      },
    } : {}),
  });
  return { layers: weights.layers.map(layer), lmHead: p(weights.lmHead) };
}
