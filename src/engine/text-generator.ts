// Generation for one request at a time: prefill, then decode token by token, sampling, stopping and
// streaming text as it goes. (The engine batches many requests; this is the plain loop the CLI and
// tests drive, and the baseline the engine is measured against.)

import { resolveKVCacheDType, type KVCacheDType, type KVCacheDTypeOption } from '../kernels/kv-cache-dtype.js';
import type { CausalLM } from '../model/architectures/decoder.js';
import { UsageError } from '../model/errors.js';
import { IncrementalDetokenizer, type Tokenizer } from '../model/tokenizer/tokenizer.js';
import { Rng } from './sampling/rng.js';
import { sampleToken, type TokenLogprobs } from './sampling/sampler.js';
import type { SamplingParams } from './sampling/sampling-params.js';
import { SequenceContext } from './sequence-context.js';
import { StopChecker, acceptToken, type FinishReason } from './stop-checker.js';

export interface GenerationChunk {
  /** Text that became final with this token (may be empty while UTF-8 or a possible stop string is pending). */
  text: string;
  tokenId: number;
  logprobs?: TokenLogprobs;
}

export interface GenerationResult {
  text: string;
  tokenIds: number[];
  logprobs?: TokenLogprobs[];
  finishReason: FinishReason;
  stopReason: string | number | null;
  usage: { promptTokens: number; completionTokens: number };
  timings: { ttftMs: number; tpotMs: number; totalMs: number };
}

export interface TextGeneratorOptions {
  /** Longest sequence (prompt + output) to allow; defaults to the model's max positions. */
  maxModelLen?: number;
  /** false: recompute the whole sequence for every token (what the KV cache saves). */
  kvCache?: boolean;
  /** How K/V are stored; `auto` (the default) is f16 on CPU. */
  kvCacheDtype?: KVCacheDTypeOption;
}

export class TextGenerator {
  readonly maxModelLen: number;
  /** Tokenizer and model EOS ids together. */
  readonly eosTokenIds: number[];
  private readonly kvCache: boolean;
  readonly kvCacheDtype: KVCacheDType;

  constructor(
    readonly model: CausalLM,
    readonly tokenizer: Tokenizer | null,
    opts: TextGeneratorOptions = {},
  ) {
    this.maxModelLen = opts.maxModelLen ?? model.config.maxPositions;
    this.kvCache = opts.kvCache ?? true;
    this.kvCacheDtype = resolveKVCacheDType(opts.kvCacheDtype);
    this.eosTokenIds = [...new Set([...(tokenizer?.eosTokenIds ?? []), ...model.config.eosTokenIds])];
  }

  /**
   * Streams one completion. `sampleIndex` picks a distinct random stream for each of n samples of a
   * seeded request (seed + index).
   */
  *generate(promptIds: readonly number[], params: SamplingParams, sampleIndex = 0): Generator<GenerationChunk, GenerationResult> {
    if (promptIds.length === 0) throw new UsageError('the prompt is empty: give at least one token');
    const vocab = this.model.config.vocabSize;
    const bad = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
    if (bad !== undefined) throw new UsageError(`prompt token id ${bad} is outside the vocabulary (0..${vocab - 1})`);
    const room = this.maxModelLen - promptIds.length;
    if (room <= 0) {
      throw new UsageError(`the prompt has ${promptIds.length} tokens, but the model's context is ${this.maxModelLen}; nothing can be generated`);
    }

    const start = performance.now();
    const rng = new Rng(params.seed !== undefined ? params.seed + sampleIndex : Rng.randomSeed());
    const ctx = new SequenceContext(this.model, Math.min(this.maxModelLen, promptIds.length + params.maxTokens), 16, this.kvCacheDtype);
    const detok = this.tokenizer ? new IncrementalDetokenizer(this.tokenizer, { skipSpecialTokens: params.skipSpecialTokens }) : null;
    const stop = new StopChecker(params, this.eosTokenIds, room);
    const output: number[] = [];
    const logprobs: TokenLogprobs[] = [];
    let firstTokenAt = 0;

    let logits = ctx.eval(promptIds);
    for (;;) {
      const sampled = sampleToken(logits, { params, promptTokens: promptIds, outputTokens: output, eosTokenIds: this.eosTokenIds, rng });
      if (output.length === 0) firstTokenAt = performance.now();
      output.push(sampled.token);
      if (sampled.logprobs) logprobs.push(sampled.logprobs);
      const text = acceptToken(stop, detok, this.tokenizer, sampled.token, output.length);
      yield { text, tokenId: sampled.token, ...(sampled.logprobs ? { logprobs: sampled.logprobs } : {}) };
      if (stop.state.finishReason) break;
      if (this.kvCache) logits = ctx.eval([sampled.token]);
      else {
        ctx.reset();
        logits = ctx.eval([...promptIds, ...output]);
      }
    }

    const end = performance.now();
    const n = output.length;
    return {
      text: stop.outputText,
      tokenIds: output,
      ...(params.logprobs !== undefined ? { logprobs } : {}),
      finishReason: stop.state.finishReason!,
      stopReason: stop.state.stopReason,
      usage: { promptTokens: promptIds.length, completionTokens: n },
      timings: { ttftMs: firstTokenAt - start, tpotMs: n > 1 ? (end - firstTokenAt) / (n - 1) : 0, totalMs: end - start },
    };
  }

  /** Runs `generate` to the end, discarding the stream. */
  complete(promptIds: readonly number[], params: SamplingParams, sampleIndex = 0): GenerationResult {
    const it = this.generate(promptIds, params, sampleIndex);
    for (;;) {
      const r = it.next();
      if (r.done) return r.value;
    }
  }
}
