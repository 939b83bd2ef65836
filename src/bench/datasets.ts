// Synthetic request sets for the offline benchmarks, seeded so runs compare like with like.
// random: vLLM's random dataset (lengths drawn uniformly within ±range-ratio of the given lengths);
// prefix-repetition: a few long shared prefixes, each followed by a short random suffix.

import { Rng } from '../engine/sampling/rng.js';

export interface BenchRequest {
  promptIds: number[];
  outputLen: number;
}

export interface RandomDatasetOptions {
  numPrompts: number;
  inputLen: number;
  outputLen: number;
  /** Lengths are drawn from [len * (1 - r), len * (1 + r)]; 0 = all equal. */
  rangeRatio: number;
  vocabSize: number;
  seed: number;
}

export interface PrefixDatasetOptions {
  numPrompts: number;
  prefixLen: number;
  suffixLen: number;
  numPrefixes: number;
  outputLen: number;
  vocabSize: number;
  seed: number;
}

/** Ids away from the low ids where tokenizers keep their special tokens. */
function randomTokens(rng: Rng, n: number, vocabSize: number): number[] {
  const lo = Math.min(3, vocabSize - 1);
  return Array.from({ length: n }, () => lo + Math.floor(rng.next() * (vocabSize - lo)));
}

function drawLength(rng: Rng, len: number, ratio: number): number {
  const lo = Math.max(1, Math.floor(len * (1 - ratio)));
  const hi = Math.max(lo, Math.ceil(len * (1 + ratio)));
  return lo + Math.floor(rng.next() * (hi - lo + 1));
}

export function randomDataset(o: RandomDatasetOptions): BenchRequest[] {
  const rng = new Rng(o.seed);
  return Array.from({ length: o.numPrompts }, () => {
    const inputLen = drawLength(rng, o.inputLen, o.rangeRatio);
    return { promptIds: randomTokens(rng, inputLen, o.vocabSize), outputLen: drawLength(rng, o.outputLen, o.rangeRatio) };
  });
}

export function prefixRepetitionDataset(o: PrefixDatasetOptions): BenchRequest[] {
  const rng = new Rng(o.seed);
  const prefixes = Array.from({ length: o.numPrefixes }, () => randomTokens(rng, o.prefixLen, o.vocabSize));
  return Array.from({ length: o.numPrompts }, (_, i) => ({
    promptIds: [...prefixes[i % o.numPrefixes]!, ...randomTokens(rng, o.suffixLen, o.vocabSize)],
    outputLen: o.outputLen,
  }));
}
