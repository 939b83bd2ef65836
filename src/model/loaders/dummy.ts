// Random weights of a named shape (--load-format dummy): seeded normal numbers, norm gains of 1; MoE
// layers with all their experts, latent attention with its own projections.

import { PRESETS } from '../presets.js';
import { UsageError } from '../../util/errors.js';
import type { ModelConfig, MoeConfig } from '../config.js';
import { weightFromF32, type WeightTensor } from '../../kernels/tensor.js';
import type { LayerWeights, MlpWeights, ModelWeights, MoeWeights } from '../weights.js';
import { Rng } from '../../util/rng.js';

export function presetConfig(name: string): ModelConfig {
  const make = PRESETS[name];
  if (!make) throw new UsageError(`unknown preset "${name}"; available: ${Object.keys(PRESETS).join(', ')}`);
  return make();
}

export function dummyWeights(c: ModelConfig, seed = 0, std = 0.02): ModelWeights {
  const rng = new Rng(seed);
  const normal = (n: number) => rng.normals(n, std);
  const mat = (rows: number, cols: number): WeightTensor => weightFromF32(normal(rows * cols), [rows, cols]);
  const ones = (n: number) => new Float32Array(n).fill(1);
  const H = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const embed = mat(c.vocabSize, H);
  const mlp = (inter: number): MlpWeights => ({ gate: mat(inter, H), up: mat(inter, H), down: mat(H, inter) });
  // gpt-oss ships its experts in MXFP4, and gpt-oss-20b's would be 76 GB as float32: they are drawn
  // as random MXFP4 blocks directly, with the float router and biases beside them.
  const mxfp4Experts = c.architecture === 'gpt_oss' && H % 32 === 0 && (c.moe?.expertIntermediateSize ?? 0) % 32 === 0;
  const expert = (inter: number): MlpWeights => (mxfp4Experts
    ? { gate: mxfp4(rng, inter, H), up: mxfp4(rng, inter, H), down: mxfp4(rng, H, inter), gateBias: normal(inter), upBias: normal(inter), downBias: normal(H) }
    : mlp(inter));
  const layers: LayerWeights[] = Array.from({ length: c.numLayers }, (_, l) => ({
    attnNorm: ones(H), ...(c.mla ? latentAttention(c, mat, ones) : { q: mat(qDim, H), k: mat(kvDim, H), v: mat(kvDim, H) }),
    o: mat(H, c.mla ? c.numHeads * c.mla.vHeadDim : qDim), mlpNorm: ones(H),
    ...(c.qkvBias ? { qBias: normal(qDim), kBias: normal(kvDim), vBias: normal(kvDim) } : {}),
    ...(c.qkNorm ? { qNorm: ones(c.headDim), kNorm: ones(c.headDim) } : {}),
    ...(c.sandwichNorms ? { postAttnNorm: ones(H), postMlpNorm: ones(H) } : {}),
    ...(c.attnSinks ? { sinks: normal(c.numHeads) } : {}),
    ...(c.moe && l >= (c.moe.firstMoeLayer ?? 0) ? { moe: moe(c.moe) } : { mlp: mlp(c.intermediateSize) }),
  }));
  function moe(m: MoeConfig): MoeWeights {
    const shared = m.sharedExpertIntermediateSize > 0;
    return {
      router: mat(m.numExperts, H), experts: Array.from({ length: m.numExperts }, () => expert(m.expertIntermediateSize)),
      ...(c.architecture === 'gpt_oss' ? { routerBias: normal(m.numExperts) } : {}),
      ...(shared ? { shared: mlp(m.sharedExpertIntermediateSize) } : {}),
      ...(shared && !m.grouped ? { sharedGate: mat(1, H) } : {}),
      ...(m.grouped ? { scoreBias: new Float32Array(m.numExperts) } : {}),
    };
  }
  return { embed, layers, finalNorm: ones(H), lmHead: c.tieEmbeddings ? embed : mat(c.vocabSize, H) };
}

function latentAttention(c: ModelConfig, mat: (rows: number, cols: number) => WeightTensor, ones: (n: number) => Float32Array): Pick<LayerWeights, 'q' | 'k' | 'mla'> {
  const m = c.mla!;
  const H = c.hiddenSize, qk = m.qkNopeDim + m.qkRopeDim;
  const kv = { kvANorm: ones(m.kvLoraRank), kvB: mat(c.numHeads * (m.qkNopeDim + m.vHeadDim), m.kvLoraRank), headShape: { heads: c.numHeads, nope: m.qkNopeDim, v: m.vHeadDim } };
  const k = mat(m.kvLoraRank + m.qkRopeDim, H);
  if (!m.qLoraRank) return { q: mat(c.numHeads * qk, H), k, mla: kv };
  return { q: mat(m.qLoraRank, H), k, mla: { ...kv, qANorm: ones(m.qLoraRank), qB: mat(c.numHeads * qk, m.qLoraRank) } };
}

// Random E2M1 codes under exponent byte 119 (scale 2^-8: values up to 6/256, like std-0.02 weights).
function mxfp4(rng: Rng, rows: number, cols: number): WeightTensor {
  const blocks = (rows * cols) / 32;
  const data = new Uint8Array(blocks * 17);
  const words = new Uint32Array(4);
  for (let b = 0; b < blocks; b++) {
    data[b * 17] = 119;
    for (let i = 0; i < 4; i++) words[i] = rng.next() * 4294967296;
    data.set(new Uint8Array(words.buffer), b * 17 + 1);
  }
  return { dtype: 'mxfp4', shape: [rows, cols], data };
}
