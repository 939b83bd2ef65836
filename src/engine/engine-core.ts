// The step loop, as in vLLM v1: schedule, run the model, sample (or verify drafts), update. The
// scheduler decides and updates, the runner builds and runs the batch, the output processor turns
// tokens into text, and the spec decoder proposes drafts for the next step. It runs synchronously,
// in the engine worker or directly in tests.

import type { CausalLM } from '../model/architectures/decoder.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import { Rng } from '../util/rng.js';
import type { EngineConfig } from './engine-config.js';
import { admissionError, type EngineStats, type NewRequest } from './engine-requests.js';
import { KVCacheManager } from './kv-cache/kv-cache-manager.js';
import { OutputProcessor, type RequestOutput } from './output/output-processor.js';
import { Request } from './request.js';
import { ModelRunner } from './runner/model-runner.js';
import { BatchQueue } from './runner/batch-queue.js';
import { sampleToken } from './sampling/sampler.js';
import { ContinuousScheduler } from './scheduler/continuous-scheduler.js';
import type { SampledTokens, Scheduler, SchedulerConfig } from './scheduler/scheduler.js';
import { StaticScheduler } from './scheduler/static-scheduler.js';
import { SpecDecoder } from './spec-decode/spec-decoder.js';
import { UsageError } from '../util/errors.js';
import { ConstrainedRequests } from './structured/constrained-requests.js';

export class EngineCore {
  readonly kv: KVCacheManager;
  readonly scheduler: Scheduler;
  readonly runner: ModelRunner;
  readonly eosTokenIds: number[];
  /** Longest prompt + output a request may reach: the model's context, or the whole cache if smaller. */
  readonly maxSequenceTokens: number;
  private readonly outputs: OutputProcessor;
  private readonly spec: SpecDecoder | null;
  private readonly batches: BatchQueue;
  private readonly requests = new Map<string, Request>();
  private readonly pendingAborts = new Set<string>();
  /** Structured outputs: compile a request's grammar here (off the step loop) before adding it. */
  readonly constrained: ConstrainedRequests;
  private arrivals = 0;

  /** `draft`: the draft model, when config.speculative's method is draft-model. */
  constructor(
    readonly model: CausalLM,
    readonly tokenizer: Tokenizer | null,
    readonly config: EngineConfig,
    draft?: CausalLM,
  ) {
    this.kv = new KVCacheManager(config.numBlocks, config.blockSize, config.enablePrefixCaching);
    this.runner = new ModelRunner(model, config.numBlocks, config.blockSize, config.kvCacheDtype);
    this.maxSequenceTokens = Math.min(config.maxModelLen, config.numBlocks * config.blockSize);
    this.spec = config.speculative ? new SpecDecoder(config.speculative, this.runner, config, this.maxSequenceTokens, draft) : null;
    this.outputs = new OutputProcessor(tokenizer);
    this.eosTokenIds = [...new Set([...(tokenizer?.eosTokenIds ?? []), ...model.config.eosTokenIds])];
    this.constrained = new ConstrainedRequests(tokenizer, model.config.vocabSize, this.eosTokenIds, config.maxNumSeqs, config.speculative?.numSpeculativeTokens ?? 0);
    const sc: SchedulerConfig = { maxNumBatchedTokens: config.maxNumBatchedTokens, maxNumSeqs: config.maxNumSeqs, policy: config.schedulingPolicy,
      numLookaheadTokens: this.spec?.numLookaheadTokens ?? 0, recompute: !config.kvCache };
    this.scheduler = config.scheduler === 'static' ? new StaticScheduler(sc, this.kv, this.eosTokenIds) : new ContinuousScheduler(sc, this.kv, this.eosTokenIds);
    this.batches = new BatchQueue(this.runner, this.scheduler, this.spec !== null);
  }

  get hasWork(): boolean {
    return this.requests.size > 0 || this.pendingAborts.size > 0;
  }

  /** Admits a request (its grammar compiled first), or throws a UsageError saying why it can never run. */
  addRequest(r: NewRequest): void {
    if (this.requests.has(r.id)) throw new UsageError(`request id ${r.id} is already in use`);
    const problem = admissionError(r.promptIds, this.model.config.vocabSize, this.config.maxModelLen, this.maxSequenceTokens, r.pooling !== undefined);
    if (problem) throw new UsageError(problem);
    this.constrained.check(r.params.structuredOutputs);
    const rng = new Rng(r.params.seed !== undefined ? r.params.seed + (r.sampleIndex ?? 0) : Rng.randomSeed());
    const maxOutput = Math.min(r.params.maxTokens, this.maxSequenceTokens - r.promptIds.length);
    const req = new Request(r.id, r.promptIds, r.params, r.priority ?? 0, this.arrivals++, rng, maxOutput, r.arrival);
    req.pooling = r.pooling ?? null;
    req.cacheSalt = this.model.prefixCacheSalt(r.promptIds.length);
    this.constrained.open(req);
    this.requests.set(r.id, req);
    this.outputs.add(req);
    this.scheduler.add(req);
  }

  /** Ends a request at the start of the next step, freeing its blocks; unknown ids are ignored. */
  abort(id: string): void {
    if (this.requests.has(id)) this.pendingAborts.add(id);
  }

  /** Ends every request at once (after a failed step), freeing all their blocks; returns their ids. */
  abortAll(): string[] {
    const ids = [...this.requests.keys()];
    for (const id of ids) this.endAborted(id);
    this.pendingAborts.clear();
    return ids;
  }

  step(): RequestOutput[] {
    // A request in a pass still in flight is aborted once that pass is back.
    const ready = [...this.pendingAborts].filter((id) => !this.batches.inFlight(this.requests.get(id)!));
    for (const id of ready) this.pendingAborts.delete(id);
    const aborted = ready.map((id) => this.endAborted(id)).filter((o) => o !== null);

    const pass = this.batches.next();
    if (!pass) return aborted;
    const { plan, out: { sampled, logits, pooled } } = pass;
    const V = this.model.config.vocabSize;
    let row = 0;
    const results = sampled.map(({ req, drafts }): SampledTokens => {
      const rows = logits.subarray(row * V, (row + drafts.length + 1) * V);
      row += drafts.length + 1;
      const masks = this.constrained.allowed(req);
      const ctx = {
        params: req.params, promptTokens: req.promptIds, outputTokens: req.outputIds, eosTokenIds: this.eosTokenIds, rng: req.rng, allowed: masks?.[0],
      };
      const v = drafts.length > 0 ? this.spec!.verify(req, rows, drafts, ctx, masks) : { tokens: [sampleToken(rows, ctx)], numRejected: 0 };
      const lp = v.tokens.flatMap((t) => (t.logprobs ? [t.logprobs] : []));
      return { req, tokens: v.tokens.map((t) => t.token), ...(lp.length > 0 ? { logprobs: lp } : {}), numRejectedDrafts: v.numRejected };
    });
    const { outputs, stopped } = this.outputs.process(this.scheduler.update(plan, results));
    outputs.push(...pooled.map((p) => this.outputs.pooled(this.scheduler.finishPooled(p.req), p.embedding)));
    for (const { req, stop } of stopped) this.scheduler.finish(req, 'stop', stop);
    this.constrained.advance(results);
    for (const o of outputs) if (o.finishReason) this.requests.delete(o.requestId);
    this.spec?.propose(this.requests.values(), this.eosTokenIds);
    if (this.spec) this.constrained.drafted(this.requests.values());
    return [...aborted, ...outputs];
  }

  stats(): EngineStats {
    return {
      numRunning: this.scheduler.numRunning,
      numWaiting: this.scheduler.numWaiting,
      kvCacheUsage: this.kv.usage,
      prefixCacheQueries: this.kv.stats.queries,
      prefixCacheHits: this.kv.stats.hits,
      numPreemptions: this.scheduler.numPreemptions,
      numBatchedTokens: this.batches.numBatchedTokens,
      promptTokens: this.scheduler.numPromptTokensServed,
      ...(this.spec ? { spec: this.spec.stats() } : {}),
      ...(this.hasWork ? {} : { kvAudit: this.kv.audit() }),
    };
  }

  private endAborted(id: string): RequestOutput | null {
    const req = this.requests.get(id);
    if (!req) return null;
    this.scheduler.finish(req, 'abort', null);
    this.constrained.release(req);
    this.requests.delete(id);
    return this.outputs.aborted(req);
  }
}
