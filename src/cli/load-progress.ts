// The loading bar for commands that load a model in their own thread (the benchmarks), as the
// engine's worker gives `generate`, `chat` and `serve`: on a terminal only.

import type { Backend } from '../kernels/backend.js';
import { CausalLM } from '../model/architectures/decoder.js';
import { prepareWeights } from '../model/architectures/prepared-weights.js';
import type { ModelConfig } from '../model/config.js';
import type { ModelWeights } from '../model/weights.js';
import type { LoadProgress } from '../engine/engine-protocol.js';
import { loadProgressBar } from '../engine/load-progress-bar.js';

/** Reports layers done to a bar on stderr (none on a pipe); the bar goes when the last layer is done. */
export function layerProgress(stage: LoadProgress['stage'], model: LoadProgress['model'] = 'target'): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  const bar = loadProgressBar();
  return (done, total) => {
    bar.update({ type: 'load-progress', stage, model, done, total });
    if (done === total) bar.stop();
  };
}

/** The model of weights the caller reads nothing more from than formats and shapes (copied matrices are dropped from them). */
export function causalLMWithProgress(config: ModelConfig, weights: ModelWeights, backend: Backend, model: LoadProgress['model'] = 'target'): CausalLM {
  return new CausalLM(config, weights, backend, prepareWeights(weights, backend, layerProgress('packing weights', model), true, true));
}
