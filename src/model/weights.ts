// The decoder's weights under one naming, whatever file they came from. Loaders map their own tensor
// names (HF, GGUF, llama2.c) onto this shape; matrices stay in their storage format, small vectors
// (norm gains, biases) are float32.

import type { WeightTensor } from '../kernels/tensor.js';

export interface MlpWeights {
  /** Absent for plain (non-gated) MLPs such as GPT-2's. */
  gate?: WeightTensor;
  up: WeightTensor;
  down: WeightTensor;
  gateBias?: Float32Array;
  upBias?: Float32Array;
  downBias?: Float32Array;
}

export interface MoeWeights {
  /** [numExperts, hidden] */
  router: WeightTensor;
  routerBias?: Float32Array;
  /** null: an expert another rank holds (expert parallelism). */
  experts: (MlpWeights | null)[];
  shared?: MlpWeights;
  /** [1, hidden]: sigmoid gate on the shared expert's output. */
  sharedGate?: WeightTensor;
  /** [numExperts]: DeepSeek's e_score_correction_bias, added to the scores that choose experts. */
  scoreBias?: Float32Array;
}

/** Multi-head latent attention's weights beyond q and k (config.ts MlaConfig). */
export interface MlaWeights {
  /** [qLoraRank] RMSNorm on q's low-rank projection; with qB, absent without a q rank. */
  qANorm?: Float32Array;
  /** [numHeads * (nope + rope), qLoraRank] */
  qB?: WeightTensor;
  /** [kvLoraRank] */
  kvANorm: Float32Array;
  /** [numHeads * (nope + v), kvLoraRank]: per head, the key rows then the value rows. */
  kvB: WeightTensor;
  headShape: { heads: number; nope: number; v: number };
}

export interface LayerWeights {
  attnNorm: Float32Array;
  attnNormBias?: Float32Array;
  /** The projections of the layer input; under MLA q is q_a (or q) and k kv_a_proj_with_mqa, and no v. */
  q: WeightTensor;
  k: WeightTensor;
  v?: WeightTensor;
  mla?: MlaWeights;
  o: WeightTensor;
  qBias?: Float32Array;
  kBias?: Float32Array;
  vBias?: Float32Array;
  oBias?: Float32Array;
  qNorm?: Float32Array;
  kNorm?: Float32Array;
  /** [numHeads] gpt-oss's attention sinks. */
  sinks?: Float32Array;
  mlpNorm: Float32Array;
  mlpNormBias?: Float32Array;
  /** Gemma's sandwich norms on the attention and MLP outputs, before each residual add. */
  postAttnNorm?: Float32Array;
  postMlpNorm?: Float32Array;
  mlp?: MlpWeights;
  moe?: MoeWeights;
}

export interface ModelWeights {
  /** [vocab, hidden] */
  embed: WeightTensor;
  /** [maxPositions, hidden]: learned positions (GPT-2). */
  posEmbed?: WeightTensor;
  layers: LayerWeights[];
  finalNorm: Float32Array;
  finalNormBias?: Float32Array;
  /** [vocab, hidden]; the embedding itself when tied. */
  lmHead: WeightTensor;
}

