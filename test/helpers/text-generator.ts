// The tests' oracle: one request at a time with its own KV cache, prefill then decode token by token,
// no scheduler, no batching. Engine outputs are compared with what this plain loop gives alone.

import type { CausalLM } from '../../src/model/architectures/decoder.js';
import { IncrementalDetokenizer, type Tokenizer } from '../../src/model/tokenizer/tokenizer.js';
import type { KVCacheDType } from '../../src/kernels/kv-cache-dtype.js';
import { StopStringText } from '../../src/engine/output/stop-strings.js';
import { sampleToken, type TokenLogprobs } from '../../src/engine/sampling/sampler.js';
import type { SamplingParams } from '../../src/engine/sampling/sampling-params.js';
import { Rng } from '../../src/util/rng.js';
import { SequenceContext } from './sequence-context.js';

export interface OracleResult {
  text: string;
  tokenIds: number[];
  logprobs: TokenLogprobs[];
  finishReason: 'stop' | 'length';
}

export class TextGenerator {
  readonly eosTokenIds: number[];

  constructor(
    readonly model: CausalLM,
    readonly tokenizer: Tokenizer | null,
    private readonly opts: { kvCacheDtype?: KVCacheDType } = {},
  ) {
    this.eosTokenIds = [...new Set([...(tokenizer?.eosTokenIds ?? []), ...model.config.eosTokenIds])];
  }

  /** Sample `sampleIndex` of a seeded request draws from seed + sampleIndex, as the engine's do. */
  complete(promptIds: readonly number[], params: SamplingParams, sampleIndex = 0): OracleResult {
    const maxLen = this.model.config.maxPositions;
    const rng = new Rng(params.seed !== undefined ? params.seed + sampleIndex : Rng.randomSeed());
    const ctx = new SequenceContext(this.model, Math.min(maxLen, promptIds.length + params.maxTokens), 16, this.opts.kvCacheDtype ?? 'f16');
    const detok = this.tokenizer ? new IncrementalDetokenizer(this.tokenizer, { skipSpecialTokens: params.skipSpecialTokens }) : null;
    const text = new StopStringText(params);
    const eos = new Set(params.ignoreEos ? [] : this.eosTokenIds);
    const output: number[] = [];
    const logprobs: TokenLogprobs[] = [];
    let logits = ctx.eval(promptIds);
    for (;;) {
      const s = sampleToken(logits, { params, promptTokens: promptIds, outputTokens: output, eosTokenIds: this.eosTokenIds, rng });
      output.push(s.token);
      if (s.logprobs) logprobs.push(s.logprobs);
      const piece = detok ? detok.push(s.token) : '';
      const minReached = output.length > params.minTokens;
      if (minReached && eos.has(s.token)) return this.end(text, detok, output, logprobs, 'stop');
      if (minReached && params.stopTokenIds.includes(s.token)) {
        if (!this.tokenizer?.isSpecial(s.token)) text.append(piece, 0);
        return this.end(text, detok, output, logprobs, 'stop');
      }
      if (text.append(piece, output.length) !== null) return { text: text.take(true), tokenIds: output, logprobs, finishReason: 'stop' };
      if (output.length >= params.maxTokens || promptIds.length + output.length >= maxLen) return this.end(text, detok, output, logprobs, 'length');
      logits = ctx.eval([s.token]);
    }
  }

  private end(text: StopStringText, detok: IncrementalDetokenizer | null, tokenIds: number[], logprobs: TokenLogprobs[], finishReason: 'stop' | 'length'): OracleResult {
    if (detok) text.append(detok.flush(), 0);
    return { text: text.take(true), tokenIds, logprobs, finishReason };
  }
}
