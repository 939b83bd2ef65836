// The step loop: schedule, run the model, sample (or verify drafts), update, propose drafts for the
// next step. It owns the model, the KV cache and every request's state, and runs synchronously (in
// the engine worker, or directly in tests). Each step returns what changed for each request: new
// tokens, the text they made final, and finish reasons.

import type { CausalLM } from '../model/architectures/decoder.js';
import { UsageError } from '../model/errors.js';
import { IncrementalDetokenizer, type Tokenizer } from '../model/tokenizer/tokenizer.js';
import type { EngineConfig } from './engine-config.js';
import { KVCacheManager } from './kv-cache/kv-cache-manager.js';
import { ModelRunner } from './model-runner.js';
import { Request, epochMs, type RequestFinishReason, type RequestTimeline } from './request.js';
import { Rng } from './sampling/rng.js';
import { sampleToken, type SampledToken, type TokenLogprobs } from './sampling/sampler.js';
import { DraftPacer } from './spec-decode/draft-pacing.js';
import { makeProposer, type Proposer } from './spec-decode/proposer.js';
import { verifyDrafts } from './spec-decode/verify-drafts.js';
import type { SamplingParams } from './sampling/sampling-params.js';
import { ContinuousScheduler } from './scheduler/continuous-scheduler.js';
import type { Scheduler } from './scheduler/scheduler.js';
import { StaticScheduler } from './scheduler/static-scheduler.js';
import { StopChecker, acceptToken } from './stop-checker.js';

export interface NewRequest {
  id: string;
  promptIds: readonly number[];
  params: SamplingParams;
  /** Lower is served first under the priority policy. */
  priority?: number;
  /** Which of n samples this is: sample i of a seeded request draws from seed + i. */
  sampleIndex?: number;
  /** Epoch ms the request reached the engine (defaults to now). */
  arrival?: number;
}

/** What one step changed for one request. */
export interface RequestOutput {
  requestId: string;
  /** Tokens generated in this step (none for an abort). */
  tokenIds: number[];
  /** Text that became final in this step. */
  text: string;
  logprobs?: TokenLogprobs[];
  finishReason: RequestFinishReason | null;
  stopReason: string | number | null;
  numPromptTokens: number;
  numCachedTokens: number;
  /** Present once the request has finished. */
  timeline?: RequestTimeline;
  numPreemptions?: number;
}

export interface EngineStats {
  numRunning: number;
  numWaiting: number;
  kvCacheUsage: number;
  prefixCacheQueries: number;
  prefixCacheHits: number;
  numPreemptions: number;
  /** Tokens computed in the last step (prompt and decode). */
  numBatchedTokens: number;
  /** Prompt tokens of the requests that have produced their first token, since start-up. */
  promptTokens: number;
  /** Speculative decoding since start-up (absent when it is off). */
  spec?: SpecDecodeStats;
}

export interface SpecDecodeStats {
  /** Draft runs verified: one per sequence per step with drafts. */
  numDrafts: number;
  numDraftTokens: number;
  numAcceptedTokens: number;
  /** Accepted drafts by position in the draft (0 = first). */
  acceptedPerPosition: number[];
  /** Milliseconds spent proposing (draft model passes, n-gram lookup). */
  draftMs: number;
}

export class EngineCore {
  readonly kv: KVCacheManager;
  readonly scheduler: Scheduler;
  readonly runner: ModelRunner;
  readonly eosTokenIds: number[];
  /** Longest prompt + output a request may reach: the model's context, or the whole cache if smaller. */
  readonly maxSequenceTokens: number;
  private readonly requests = new Map<string, Request>();
  private readonly pendingAborts = new Set<string>();
  private arrivals = 0;
  private lastBatchedTokens = 0;
  private promptTokens = 0;
  private readonly proposer: Proposer | null;
  private readonly specStats: SpecDecodeStats | null;
  private readonly pacer = new DraftPacer();

  /** `draft`: the draft model, when config.speculative's method is draft-model. */
  constructor(
    readonly model: CausalLM,
    readonly tokenizer: Tokenizer | null,
    readonly config: EngineConfig,
    draft?: CausalLM,
  ) {
    this.kv = new KVCacheManager(config.numBlocks, config.blockSize, config.enablePrefixCaching);
    this.runner = new ModelRunner(model, config.numBlocks, config.blockSize, config.kvCacheDtype);
    this.proposer = config.speculative ? makeProposer(config.speculative, this.runner, config, draft) : null;
    this.specStats = config.speculative ? { numDrafts: 0, numDraftTokens: 0, numAcceptedTokens: 0, acceptedPerPosition: new Array<number>(config.speculative.numSpeculativeTokens).fill(0), draftMs: 0 } : null;
    this.maxSequenceTokens = Math.min(config.maxModelLen, config.numBlocks * config.blockSize);
    const schedulerConfig = { maxNumBatchedTokens: config.maxNumBatchedTokens, maxNumSeqs: config.maxNumSeqs, policy: config.schedulingPolicy };
    this.scheduler =
      config.scheduler === 'static'
        ? new StaticScheduler(schedulerConfig, this.kv, (r) => Math.min(this.maxSequenceTokens, r.numPromptTokens + r.params.maxTokens))
        : new ContinuousScheduler(schedulerConfig, this.kv);
    this.eosTokenIds = [...new Set([...(tokenizer?.eosTokenIds ?? []), ...model.config.eosTokenIds])];
  }

  get hasWork(): boolean {
    return this.requests.size > 0 || this.pendingAborts.size > 0;
  }

  /** Admits a request, or throws a UsageError saying why it can never run. */
  addRequest(r: NewRequest): void {
    if (this.requests.has(r.id)) throw new UsageError(`request id ${r.id} is already in use`);
    const n = r.promptIds.length;
    if (n === 0) throw new UsageError('the prompt is empty: give at least one token');
    const vocab = this.model.config.vocabSize;
    const bad = r.promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
    if (bad !== undefined) throw new UsageError(`prompt token id ${bad} is outside the vocabulary (0..${vocab - 1})`);
    if (n >= this.config.maxModelLen) {
      throw new UsageError(`the prompt has ${n} tokens, but the maximum context length is ${this.config.maxModelLen} tokens (prompt plus at least one generated token)`);
    }
    if (n >= this.maxSequenceTokens) {
      throw new UsageError(
        `the prompt has ${n} tokens, but the whole KV cache holds ${this.maxSequenceTokens} tokens; raise --kv-cache-memory or shorten the prompt`,
      );
    }
    const tokenizer = this.tokenizer;
    const req = new Request(r.id, r.promptIds, r.params, r.priority ?? 0, this.arrivals++, {
      rng: new Rng(r.params.seed !== undefined ? r.params.seed + (r.sampleIndex ?? 0) : Rng.randomSeed()),
      stop: new StopChecker(r.params, this.eosTokenIds, this.maxSequenceTokens - n),
      detokenizer: tokenizer ? new IncrementalDetokenizer(tokenizer, { skipSpecialTokens: r.params.skipSpecialTokens }) : null,
    }, r.arrival);
    this.requests.set(r.id, req);
    this.scheduler.add(req);
  }

  /** Ends a request at the start of the next step, freeing its blocks; unknown ids are ignored. */
  abort(id: string): void {
    if (this.requests.has(id)) this.pendingAborts.add(id);
  }

  /** Ends every request at once (after a failed step), freeing all their blocks; returns their ids. */
  abortAll(): string[] {
    const reqs = [...this.requests.values()];
    for (const req of reqs) this.finish(req, 'abort', null, [], '', undefined);
    this.pendingAborts.clear();
    return reqs.map((r) => r.id);
  }

  step(): RequestOutput[] {
    const outputs: RequestOutput[] = [];
    for (const id of this.pendingAborts) {
      const req = this.requests.get(id);
      if (req) outputs.push(this.finish(req, 'abort', null, [], '', undefined));
    }
    this.pendingAborts.clear();

    const plan = this.scheduler.schedule();
    this.lastBatchedTokens = plan.scheduled.reduce((n, s) => n + s.numNewTokens, 0);
    if (plan.scheduled.length === 0) return outputs;

    const { sampled, logits } = this.runner.run(plan.scheduled, plan.paddingRows);
    for (const { req, numNewTokens } of plan.scheduled) req.numComputedTokens += numNewTokens;
    const V = this.model.config.vocabSize;
    let row = 0;
    for (const { req, drafts } of sampled) {
      outputs.push(this.sample(req, logits.subarray(row * V, (row + drafts.length + 1) * V), drafts));
      row += drafts.length + 1;
    }
    if (this.proposer) this.propose(this.proposer);
    return outputs;
  }

  // Drafts for every request that will decode next step: as many as the pacer allows (from how recent
  // runs fared), at most what its max_tokens and the context still allow, and only where the pool has
  // the blocks for them.
  private propose(proposer: Proposer): void {
    const k = this.config.speculative!.numSpeculativeTokens;
    const reqs: Request[] = [];
    const counts: number[] = [];
    for (const req of this.requests.values()) {
      req.specTokenIds = [];
      req.specDraftProbs = [];
      if (req.status !== 'running' || req.numPendingTokens !== 1) continue;
      const room = Math.min(this.pacer.allowance(req.spec, k), req.params.maxTokens - req.outputIds.length - 1, this.maxSequenceTokens - req.numTokens - 1);
      if (room <= 0) continue;
      if (proposer.needsBlocks && !this.kv.allocateSlots(req, room)) continue;
      reqs.push(req);
      counts.push(room);
    }
    const t0 = performance.now();
    proposer.propose(reqs, counts, this.eosTokenIds).forEach((drafts, i) => (reqs[i]!.specTokenIds = drafts));
    this.specStats!.draftMs += performance.now() - t0;
  }

  stats(): EngineStats {
    return {
      numRunning: this.scheduler.numRunning,
      numWaiting: this.scheduler.numWaiting,
      kvCacheUsage: this.kv.usage,
      prefixCacheQueries: this.kv.stats.queries,
      prefixCacheHits: this.kv.stats.hits,
      numPreemptions: this.scheduler.numPreemptions,
      numBatchedTokens: this.lastBatchedTokens,
      promptTokens: this.promptTokens,
      ...(this.specStats ? { spec: { ...this.specStats, acceptedPerPosition: [...this.specStats.acceptedPerPosition] } } : {}),
    };
  }

  // One new token, or with drafts: the accepted ones and the target's own. Rejected drafts' K/V stay
  // in their slots, outside numComputedTokens, and are overwritten by the tokens that replace them.
  private sample(req: Request, logits: Float32Array, drafts: readonly number[]): RequestOutput {
    const { rng, stop, detokenizer } = req.sampling;
    const ctx = { params: req.params, promptTokens: req.promptIds, outputTokens: req.outputIds, eosTokenIds: this.eosTokenIds, rng };
    let accepted: SampledToken[];
    if (drafts.length === 0) {
      accepted = [sampleToken(logits, ctx)];
    } else {
      const q = req.specDraftProbs.length > 0 ? req.specDraftProbs.slice(0, drafts.length) : null;
      const v = verifyDrafts({ logits, vocab: this.model.config.vocabSize, drafts, draftProbs: q, ctx });
      accepted = v.tokens;
      req.numComputedTokens -= drafts.length - v.numAccepted;
      req.numDraftComputed = Math.min(req.numDraftComputed, req.numComputedTokens);
      const st = this.specStats!;
      st.numDrafts++;
      st.numDraftTokens += drafts.length;
      st.numAcceptedTokens += v.numAccepted;
      for (let i = 0; i < v.numAccepted; i++) st.acceptedPerPosition[i]!++;
      this.pacer.record(req.spec, drafts.length, v.numAccepted);
    }
    const now = epochMs();
    if (req.timeline.firstToken === null) {
      req.timeline.firstToken = now;
      this.promptTokens += req.numPromptTokens;
    }
    const tokens: number[] = [];
    const logprobs: TokenLogprobs[] = [];
    let text = '';
    for (const s of accepted) {
      req.timeline.tokens.push(now);
      req.appendOutput(s.token);
      tokens.push(s.token);
      if (s.logprobs) logprobs.push(s.logprobs);
      text += acceptToken(stop, detokenizer, this.tokenizer, s.token, req.outputIds.length);
      if (stop.state.finishReason) break;
    }
    const lp = logprobs.length > 0 ? logprobs : undefined;
    if (!stop.state.finishReason) return this.output(req, tokens, text, lp);
    return this.finish(req, stop.state.finishReason, stop.state.stopReason, tokens, text, lp);
  }

  private finish(req: Request, reason: RequestFinishReason, stopReason: string | number | null, tokens: number[], text: string, logprobs: TokenLogprobs[] | undefined): RequestOutput {
    req.status = 'finished';
    req.finishReason = reason;
    req.stopReason = stopReason;
    req.timeline.finished = epochMs();
    this.scheduler.remove(req);
    this.kv.free(req);
    this.requests.delete(req.id);
    return { ...this.output(req, tokens, text, logprobs), timeline: req.timeline, numPreemptions: req.numPreemptions };
  }

  private output(req: Request, tokenIds: number[], text: string, logprobs: TokenLogprobs[] | undefined): RequestOutput {
    return {
      requestId: req.id,
      tokenIds,
      text,
      ...(logprobs ? { logprobs } : {}),
      finishReason: req.finishReason,
      stopReason: req.stopReason,
      numPromptTokens: req.numPromptTokens,
      numCachedTokens: req.numCachedTokens,
    };
  }
}
