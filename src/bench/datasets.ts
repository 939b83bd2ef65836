// Synthetic request sets for the offline benchmarks, seeded so runs compare like with like.
// random: vLLM's random dataset (lengths drawn uniformly within ±range-ratio of the given lengths);
// prefix-repetition: a few long shared prefixes, each followed by a short random suffix;
// quote: a passage, then its first half again, so the natural continuation quotes the rest (the
// repetitive workload prompt-lookup speculation is for);
// sharegpt: real first turns of conversations, with the reply's length as the output length.

import fs from 'node:fs';
import { Rng } from '../util/rng.js';
import { UsageError } from '../util/errors.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';

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

export interface QuoteDatasetOptions {
  numPrompts: number;
  outputLen: number;
  seed: number;
  /** Sentences from this text (tokenized with `tokenizer`), else random token passages of passageLen. */
  text?: { content: string; tokenizer: Tokenizer; sentences: number };
  passageLen: number;
  vocabSize: number;
}

export function quoteDataset(o: QuoteDatasetOptions): BenchRequest[] {
  const rng = new Rng(o.seed);
  const sentences = o.text ? o.text.content.split(/(?<=[.!?])\s+/).filter((x) => x.trim() !== '') : [];
  if (o.text && sentences.length < o.text.sentences) throw new UsageError(`the quote text has ${sentences.length} sentences, fewer than the ${o.text.sentences} a passage takes`);
  return Array.from({ length: o.numPrompts }, () => {
    if (!o.text) {
      const passage = randomTokens(rng, o.passageLen, o.vocabSize);
      return { promptIds: [...passage, ...passage.slice(0, passage.length >> 1)], outputLen: o.outputLen };
    }
    const start = Math.floor(rng.next() * (sentences.length - o.text.sentences + 1));
    const passage = sentences.slice(start, start + o.text.sentences).join(' ');
    // Cut at a word boundary: a cut inside a word tokenizes differently from the passage ("sa" against
    // "said"), which no quoting model could continue token for token.
    const half = passage.lastIndexOf(' ', passage.length >> 1);
    return { promptIds: o.text.tokenizer.encode(`${passage}\n\n${passage.slice(0, half > 0 ? half : passage.length >> 1)}`), outputLen: o.outputLen };
  });
}

export function prefixRepetitionDataset(o: PrefixDatasetOptions): BenchRequest[] {
  const rng = new Rng(o.seed);
  const prefixes = Array.from({ length: o.numPrefixes }, () => randomTokens(rng, o.prefixLen, o.vocabSize));
  // Each prefix equally often, in a shuffled order (as vLLM's dataset does): a fixed cycle would let
  // round-robin routing pin each prefix to one worker by accident.
  const order = Array.from({ length: o.numPrompts }, (_, i) => i % o.numPrefixes);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.map((p) => ({ promptIds: [...prefixes[p]!, ...randomTokens(rng, o.suffixLen, o.vocabSize)], outputLen: o.outputLen }));
}

export interface TextRequest {
  prompt: string;
  promptLen: number;
  outputLen: number;
}

/**
 * ShareGPT-style JSON ([{conversations: [{from: "human", value}, {from: "gpt", value}, ...]}]): each
 * conversation's first turn and the reply's token count, filtered as vLLM does (at least 4 tokens
 * each, prompt at most 1,024, both together at most 2,048), then `numPrompts` drawn in seeded order.
 */
export function shareGptDataset(file: string, tokenizer: Tokenizer, numPrompts: number, seed: number, fixedOutputLen?: number): TextRequest[] {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--dataset-path ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not valid JSON'}`);
  }
  if (!Array.isArray(data)) throw new UsageError(`--dataset-path ${file}: expected a JSON list of conversations`);
  const rng = new Rng(seed);
  const order = data.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const out: TextRequest[] = [];
  for (const i of order) {
    if (out.length === numPrompts) break;
    const turns = (data[i] as { conversations?: { value?: unknown }[] })?.conversations;
    if (!Array.isArray(turns) || turns.length < 2 || typeof turns[0]?.value !== 'string' || typeof turns[1]?.value !== 'string') continue;
    const promptLen = tokenizer.encode(turns[0].value).length;
    const outputLen = fixedOutputLen ?? tokenizer.encode(turns[1].value, { addSpecialTokens: false }).length;
    if (promptLen < 4 || outputLen < 4 || promptLen > 1024 || promptLen + outputLen > 2048) continue;
    out.push({ prompt: turns[0].value, promptLen, outputLen });
  }
  if (out.length < numPrompts) throw new UsageError(`--dataset-path ${file}: only ${out.length} usable conversations for ${numPrompts} prompts`);
  return out;
}
