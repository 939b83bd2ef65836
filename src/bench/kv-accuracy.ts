// What a quantized KV cache costs in accuracy, measured against float32 KV on the same model: the
// reference text is float32's own greedy continuation of each prompt. For each dtype, teacher-forced
// over that text: the largest |Δlogit|, the mean KL(P_f32 || P_dtype) of the next-token distributions,
// the mean negative log-likelihood of the text, and greedy agreement: how many of the reference's
// greedy tokens the dtype also picks given the same text so far. Generating freely as well: how long
// the dtype's own greedy text stays identical, and how many tokens agree position by position (after
// a first difference the two texts drift apart, so one near-tie early decides that figure).

import { kvBytesPerToken, type KVCacheDType } from '../kernels/kv-cache-dtype.js';
import type { CausalLM } from '../model/architectures/decoder.js';
import { EngineCore } from '../engine/engine-core.js';
import { resolveEngineConfig } from '../engine/engine-config.js';
import { KVCacheStorage } from '../engine/kv-cache/kv-cache-storage.js';
import { runToEnd } from '../engine/run-to-end.js';
import { BatchBuilder } from '../engine/runner/batch-builder.js';
import { argmax, logSoftmax } from '../engine/sampling/logprobs.js';
import { makeSamplingParams } from '../engine/sampling/sampling-params.js';

export interface KVAccuracyRow {
  dtype: KVCacheDType;
  maxAbsLogitDiff: number;
  meanKL: number;
  /** Teacher-forced: reference tokens that are also this dtype's argmax, over all prompts. */
  greedyAgreement: number;
  /** Free-running: this dtype's greedy tokens equal to float32's at the same position. */
  freeRunAgreement: number;
  /** Free-running: position of the first differing greedy token per prompt (steps when none differs). */
  firstDivergence: number[];
  meanNLL: number;
}

export interface KVAccuracyResult {
  steps: number;
  /** float32's greedy continuation of each prompt. */
  references: number[][];
  rows: KVAccuracyRow[];
}

const BLOCK = 16;

function greedy(model: CausalLM, prompt: readonly number[], steps: number, dtype: KVCacheDType): number[] {
  const blocks = Math.ceil((prompt.length + steps) / BLOCK) + 1;
  const c = model.config;
  const kvCacheMemory = blocks * BLOCK * kvBytesPerToken(dtype, c.numLayers, c.numKvHeads, c.headDim, c.mla ? 1 : 2);
  const config = resolveEngineConfig(c, { kvCacheDtype: dtype, blockSize: BLOCK, maxNumSeqs: 1, kvCacheMemory, enablePrefixCaching: false });
  const [r] = runToEnd(new EngineCore(model, null, config), [prompt], makeSamplingParams({ temperature: 0, maxTokens: steps, ignoreEos: true }));
  return r!.tokenIds;
}

/** Log-softmax of each row [rows, vocab], in float64 so tiny probabilities keep their digits. */
function logSoftmaxRows(logits: Float32Array, rows: number, vocab: number): Float64Array {
  const out = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) out.set(logSoftmax(logits.subarray(r * vocab, (r + 1) * vocab)), r * vocab);
  return out;
}

/** Logits [reference.length, vocab]: row t predicts reference[t] from prompt + reference[0..t). */
function teacherForced(model: CausalLM, prompt: readonly number[], reference: readonly number[], dtype: KVCacheDType): Float32Array {
  const seq = [...prompt, ...reference.slice(0, -1)];
  const blocks = Math.ceil(seq.length / BLOCK);
  const cache = new KVCacheStorage(model.config, blocks, BLOCK, dtype);
  const batch = new BatchBuilder(BLOCK).build([{ tokenIds: seq, start: 0, blockTable: Array.from({ length: blocks }, (_, i) => i), logitsFrom: 0 }]);
  const all = model.forward(batch, cache.layers, BLOCK);
  const vocab = model.config.vocabSize;
  return all.subarray((prompt.length - 1) * vocab);
}

export function kvAccuracy(model: CausalLM, prompts: readonly (readonly number[])[], steps: number, dtypes: readonly KVCacheDType[]): KVAccuracyResult {
  const vocab = model.config.vocabSize;
  const references = prompts.map((p) => greedy(model, p, steps, 'f32'));
  const base = prompts.map((p, i) => teacherForced(model, p, references[i]!, 'f32'));
  const baseLogProbs = base.map((l) => logSoftmaxRows(l, steps, vocab));
  const rows = dtypes.map((dtype): KVAccuracyRow => {
    let maxAbsLogitDiff = 0, kl = 0, nll = 0, agree = 0, freeAgree = 0;
    const firstDivergence: number[] = [];
    prompts.forEach((prompt, pi) => {
      const ref = references[pi]!;
      const logits = dtype === 'f32' ? base[pi]! : teacherForced(model, prompt, ref, dtype);
      const lp = dtype === 'f32' ? baseLogProbs[pi]! : logSoftmaxRows(logits, steps, vocab);
      const bp = baseLogProbs[pi]!;
      for (let t = 0; t < steps; t++) {
        const o = t * vocab;
        for (let i = 0; i < vocab; i++) {
          maxAbsLogitDiff = Math.max(maxAbsLogitDiff, Math.abs(logits[o + i]! - base[pi]![o + i]!));
          kl += Math.exp(bp[o + i]!) * (bp[o + i]! - lp[o + i]!);
        }
        nll -= lp[o + ref[t]!]!;
        if (argmax(logits.subarray(o, o + vocab)) === ref[t]) agree++;
      }
      const free = dtype === 'f32' ? ref : greedy(model, prompt, steps, dtype);
      const first = free.findIndex((tok, t) => tok !== ref[t]);
      firstDivergence.push(first < 0 ? steps : first);
      freeAgree += free.filter((tok, t) => tok === ref[t]).length;
    });
    const n = prompts.length * steps;
    return { dtype, maxAbsLogitDiff, meanKL: kl / n, greedyAgreement: agree / n, freeRunAgreement: freeAgree / n, firstDivergence, meanNLL: nll / n };
  });
  return { steps, references, rows };
}
