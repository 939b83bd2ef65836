// The offline API: `new LLM(options).generate(prompts, params)` runs a whole list of prompts through
// the engine at once (continuous batching does the rest) and returns their outputs in input order;
// `embed(prompts)` does the same for embeddings.

import { SingleBar } from 'cli-progress';
import { AsyncEngine, type GenerateOptions, type SampleOutput } from './async-engine.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import type { EngineInfo, EngineOptions } from './engine-options.js';
import type { RequestFinishReason, RequestTimeline } from './request.js';
import type { TokenLogprobs } from './sampling/sampler.js';
import { poolingFor } from './pooling/pooler.js';
import { makeSamplingParams, type SamplingParamsInput } from './sampling/sampling-params.js';

export interface CompletionOutput {
  index: number;
  text: string;
  tokenIds: number[];
  logprobs?: TokenLogprobs[];
  finishReason: RequestFinishReason;
  stopReason: string | number | null;
  numPreemptions: number;
  timeline: RequestTimeline;
}

export interface LLMOutput {
  prompt: string | number[];
  promptTokenIds: number[];
  /** Prompt tokens served from the prefix cache. */
  numCachedTokens: number;
  /** One per sample (n), in index order. */
  outputs: CompletionOutput[];
}

export interface EmbeddingOutput {
  prompt: string | number[];
  promptTokenIds: number[];
  /** The pooled vector (normalized where the model's pooling says). */
  embedding: Float32Array;
}

export interface LLMEmbedOptions {
  /** Matryoshka models: cut each embedding to this many values (then normalize). */
  dimensions?: number;
}

export interface LLMGenerateOptions {
  /** A progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** Per-prompt priorities for the priority policy (lower first). */
  priorities?: number[];
}

export class LLM {
  private readonly engine: Promise<AsyncEngine>;

  /** `log` gets the start-up summary (model, backend, KV-cache blocks and tokens); default: stderr when it is a terminal. */
  constructor(options: EngineOptions, log: ((line: string) => void) | null = process.stderr.isTTY ? (l) => process.stderr.write(`${l}\n`) : null) {
    this.engine = AsyncEngine.start(options, log ?? undefined);
    // Reported by the first call that awaits it, not as an unhandled rejection.
    this.engine.catch(() => {});
  }

  async info(): Promise<EngineInfo> {
    return (await this.engine).info;
  }

  /** The model's tokenizer (null for a model without one): for chat templates and prompt lengths. */
  async tokenizer(): Promise<Tokenizer | null> {
    return (await this.engine).tokenizer;
  }

  /**
   * Streams one prompt's outputs as the engine produces them: each step's new tokens and the text they
   * made final (every sample's, tagged with its index); the last one of each sample has its finish
   * reason and timeline. Unset sampling fields take the model's generation_config.json defaults.
   */
  async *stream(prompt: string | number[], params: SamplingParamsInput = {}, opts: GenerateOptions = {}): AsyncGenerator<SampleOutput> {
    const engine = await this.engine;
    yield* engine.generate(prompt, makeSamplingParams({ ...engine.info.generationDefaults, ...params }), opts);
  }

  /** Ends the stream started with this requestId: its last output comes with finish reason "abort". */
  async abort(requestId: string): Promise<void> {
    (await this.engine).abort(requestId);
  }

  /**
   * Generates for every prompt (text, or token ids). `params` is one set for all prompts or one per
   * prompt; unset fields take the model's generation_config.json defaults.
   */
  async generate(prompts: string | number[] | (string | number[])[], params: SamplingParamsInput | SamplingParamsInput[] = {}, opts: LLMGenerateOptions = {}): Promise<LLMOutput[]> {
    const engine = await this.engine;
    const list = promptList(prompts);
    if (Array.isArray(params) && params.length !== list.length) throw new RangeError(`${params.length} sampling parameter sets for ${list.length} prompts`);
    const resolved = list.map((_, i) => makeSamplingParams({ ...engine.info.generationDefaults, ...(Array.isArray(params) ? params[i] : params) }));

    const bar = (opts.progress ?? process.stderr.isTTY) ? new SingleBar({ format: 'generating [{bar}] {value}/{total} prompts | {tps} output tok/s', stream: process.stderr, hideCursor: true }) : null;
    bar?.start(list.length, 0, { tps: '0.0' });
    const start = performance.now();
    let outputTokens = 0;

    const streams = list.map((prompt, i) => engine.generate(prompt, resolved[i]!, { ...(opts.priorities ? { priority: opts.priorities[i]! } : {}) }));
    try {
      return await Promise.all(streams.map(async (stream, i) => {
        const samples = new Map<number, SampleOutput[]>();
        for await (const o of stream) {
          const list = samples.get(o.index);
          if (list) list.push(o);
          else samples.set(o.index, [o]);
          outputTokens += o.tokenIds.length;
        }
        bar?.increment(1, { tps: (outputTokens / ((performance.now() - start) / 1000)).toFixed(1) });
        return collect(list[i]!, samples);
      }));
    } catch (e) {
      // One bad prompt fails the call; the others are not left running.
      for (const s of streams) await s[Symbol.asyncIterator]().return?.();
      throw e;
    } finally {
      bar?.stop();
    }
  }

  /**
   * Embeds every prompt (text, or token ids), pooled as the model says (or as --pooling chose), in
   * input order; the prompts are batched by the scheduler like generation requests.
   */
  async embed(prompts: string | number[] | (string | number[])[], opts: LLMEmbedOptions = {}): Promise<EmbeddingOutput[]> {
    const engine = await this.engine;
    const list = promptList(prompts);
    const pooling = poolingFor(engine.info.pooling, engine.info.model.hiddenSize, opts.dimensions);
    const outputs = await engine.embedAll(list, pooling);
    return outputs.map((o, i) => ({ prompt: list[i]!, promptTokenIds: o.promptTokenIds ?? [], embedding: o.embedding }));
  }

  async close(): Promise<void> {
    try {
      await (await this.engine).close();
    } catch {
      // never started: nothing to close
    }
  }
}

/** One prompt (text or ids) or a list of them, as a list. */
function promptList(prompts: string | number[] | (string | number[])[]): (string | number[])[] {
  return typeof prompts === 'string' || (prompts.length > 0 && typeof prompts[0] === 'number') ? [prompts as string | number[]] : (prompts as (string | number[])[]);
}

function collect(prompt: string | number[], samples: Map<number, SampleOutput[]>): LLMOutput {
  const outputs = [...samples.entries()].sort((a, b) => a[0] - b[0]).map(([index, outs]): CompletionOutput => {
    const last = outs[outs.length - 1]!;
    const logprobs = outs.flatMap((o) => o.logprobs ?? []);
    return {
      index,
      text: outs.map((o) => o.text).join(''),
      tokenIds: outs.flatMap((o) => o.tokenIds),
      ...(logprobs.length > 0 ? { logprobs } : {}),
      finishReason: last.finishReason!,
      stopReason: last.stopReason,
      numPreemptions: last.numPreemptions ?? 0,
      timeline: last.timeline!,
    };
  });
  const first = samples.get(0)![0]!;
  return { prompt, promptTokenIds: first.promptTokenIds ?? [], numCachedTokens: first.numCachedTokens, outputs };
}
