// The engine's Prometheus metrics, with vLLM's names (under tsllm:), buckets and labels, so vLLM
// dashboards and alerts carry over. Gauges and counters follow each engine step's stats; the
// per-request histograms are observed from a request's timeline when it finishes.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineConfig } from '../engine/engine-config.js';
import type { RequestOutput } from '../engine/output/output-processor.js';
import type { EngineStats } from '../engine/engine-requests.js';

const LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const TOKEN_LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const ITERATION_TOKEN_BUCKETS = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

/** 1, 2, 5, 10, 20, 50, ... up to `max` (vLLM's buckets for token counts). */
export function oneTwoFiveBuckets(max: number): number[] {
  const out: number[] = [];
  for (let scale = 1; ; scale *= 10) {
    for (const m of [1, 2, 5]) {
      if (m * scale > max) return out;
      out.push(m * scale);
    }
  }
}

export class EngineMetrics {
  readonly registry = new Registry();
  private readonly labels: { model_name: string; engine: string };
  private readonly running: Gauge;
  private readonly waiting: Gauge;
  private readonly kvUsage: Gauge;
  private readonly prefixQueries: Counter;
  private readonly prefixHits: Counter;
  private readonly preemptions: Counter;
  private readonly promptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly success: Counter;
  private readonly iterationTokens: Histogram;
  private readonly requestPromptTokens: Histogram;
  private readonly requestGenerationTokens: Histogram;
  private readonly ttft: Histogram;
  private readonly tpot: Histogram;
  private readonly itl: Histogram;
  private readonly e2e: Histogram;
  private readonly queue: Histogram;
  private readonly inference: Histogram;
  private readonly prefill: Histogram;
  private readonly decode: Histogram;
  private readonly specDrafts: Counter;
  private readonly specDraftTokens: Counter;
  private readonly specAccepted: Counter;
  private readonly specAcceptedPerPos: Counter;
  private last: EngineStats | null = null;

  constructor(modelName: string, maxModelLen: number, config?: EngineConfig) {
    this.labels = { model_name: modelName, engine: '0' };
    const labelNames = ['model_name', 'engine'] as const;
    const registers = [this.registry];
    const gauge = (name: string, help: string) => new Gauge({ name: `tsllm:${name}`, help, labelNames, registers });
    // prom-client, unlike Python's client, does not append _total to counter names.
    const counter = (name: string, help: string, extra: string[] = []) => new Counter({ name: `tsllm:${name}_total`, help, labelNames: [...labelNames, ...extra], registers });
    const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name: `tsllm:${name}`, help, labelNames, buckets, registers });
    const tokenBuckets = oneTwoFiveBuckets(maxModelLen);

    this.running = gauge('num_requests_running', 'Number of requests in model execution batches.');
    this.waiting = gauge('num_requests_waiting', 'Number of requests waiting to be processed.');
    this.kvUsage = gauge('kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.');
    this.prefixQueries = counter('prefix_cache_queries', 'Prefix cache queries, in terms of number of queried tokens.');
    this.prefixHits = counter('prefix_cache_hits', 'Prefix cache hits, in terms of number of cached tokens.');
    this.preemptions = counter('num_preemptions', 'Cumulative number of preemptions from the engine.');
    this.promptTokens = counter('prompt_tokens', 'Number of prefill tokens processed.');
    this.generationTokens = counter('generation_tokens', 'Number of generation tokens processed.');
    this.success = counter('request_success', 'Count of successfully processed requests.', ['finished_reason']);
    this.iterationTokens = histogram('iteration_tokens_total', 'Histogram of number of tokens per engine step.', ITERATION_TOKEN_BUCKETS);
    this.requestPromptTokens = histogram('request_prompt_tokens', 'Number of prefill tokens processed.', tokenBuckets);
    this.requestGenerationTokens = histogram('request_generation_tokens', 'Number of generation tokens processed.', tokenBuckets);
    this.ttft = histogram('time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
    this.tpot = histogram('time_per_output_token_seconds', 'Histogram of time per output token in seconds.', TOKEN_LATENCY_BUCKETS);
    this.itl = histogram('inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', TOKEN_LATENCY_BUCKETS);
    this.e2e = histogram('e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', LATENCY_BUCKETS);
    this.queue = histogram('request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', LATENCY_BUCKETS);
    this.inference = histogram('request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', LATENCY_BUCKETS);
    this.prefill = histogram('request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', LATENCY_BUCKETS);
    this.decode = histogram('request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', LATENCY_BUCKETS);
    this.specDrafts = counter('spec_decode_num_drafts', 'Number of spec decoding drafts.');
    this.specDraftTokens = counter('spec_decode_num_draft_tokens', 'Number of draft tokens.');
    this.specAccepted = counter('spec_decode_num_accepted_tokens', 'Number of accepted tokens.');
    this.specAcceptedPerPos = counter('spec_decode_num_accepted_tokens_per_pos', 'Accepted tokens per draft position.', ['position']);
    if (config) this.describeCache(config);
    for (const reason of ['stop', 'length', 'abort']) this.success.inc({ ...this.labels, finished_reason: reason }, 0);
    for (const c of [this.prefixQueries, this.prefixHits, this.preemptions, this.promptTokens, this.generationTokens]) c.inc(this.labels, 0);
    if (config?.speculative) {
      for (const c of [this.specDrafts, this.specDraftTokens, this.specAccepted]) c.inc(this.labels, 0);
      for (let i = 0; i < config.speculative.numSpeculativeTokens; i++) this.specAcceptedPerPos.inc({ ...this.labels, position: String(i) }, 0);
    }
    collectDefaultMetrics({ register: this.registry });
  }

  // vLLM's cache_config_info (an info metric: the labels carry the values), plus the capacity as a number.
  private describeCache(c: EngineConfig): void {
    const info = new Gauge({
      name: 'tsllm:cache_config_info', help: 'Information of the KV cache: dtype, block size, blocks and capacity.',
      labelNames: ['model_name', 'engine', 'cache_dtype', 'block_size', 'num_blocks', 'capacity_tokens', 'kv_cache_bytes'], registers: [this.registry],
    });
    info.set({
      ...this.labels, cache_dtype: c.kvCacheDtype, block_size: String(c.blockSize), num_blocks: String(c.numBlocks),
      capacity_tokens: String(c.numBlocks * c.blockSize), kv_cache_bytes: String(c.kvCacheBytes),
    }, 1);
    new Gauge({ name: 'tsllm:kv_cache_capacity_tokens', help: 'Tokens the KV cache holds at its dtype.', labelNames: ['model_name', 'engine'], registers: [this.registry] })
      .set(this.labels, c.numBlocks * c.blockSize);
  }

  /** One engine step: gauges, token counters, and the histograms of requests that finished in it. */
  observeStep(outputs: readonly RequestOutput[], stats: EngineStats): void {
    const l = this.labels;
    this.running.set(l, stats.numRunning);
    this.waiting.set(l, stats.numWaiting);
    this.kvUsage.set(l, stats.kvCacheUsage);
    const prev = this.last;
    this.prefixQueries.inc(l, stats.prefixCacheQueries - (prev?.prefixCacheQueries ?? 0));
    this.prefixHits.inc(l, stats.prefixCacheHits - (prev?.prefixCacheHits ?? 0));
    this.preemptions.inc(l, stats.numPreemptions - (prev?.numPreemptions ?? 0));
    this.promptTokens.inc(l, stats.promptTokens - (prev?.promptTokens ?? 0));
    if (stats.spec) {
      const s = stats.spec, p = prev?.spec;
      this.specDrafts.inc(l, s.numDrafts - (p?.numDrafts ?? 0));
      this.specDraftTokens.inc(l, s.numDraftTokens - (p?.numDraftTokens ?? 0));
      this.specAccepted.inc(l, s.numAcceptedTokens - (p?.numAcceptedTokens ?? 0));
      s.acceptedPerPosition.forEach((n, i) => this.specAcceptedPerPos.inc({ ...l, position: String(i) }, n - (p?.acceptedPerPosition[i] ?? 0)));
    }
    this.last = stats;

    let generated = 0;
    for (const o of outputs) {
      generated += o.tokenIds.length;
      if (o.finishReason) this.observeFinished(o);
    }
    this.generationTokens.inc(l, generated);
    if (stats.numBatchedTokens > 0) this.iterationTokens.observe(l, stats.numBatchedTokens);
  }

  private observeFinished(o: RequestOutput): void {
    const l = this.labels;
    const t = o.timeline!;
    this.success.inc({ ...l, finished_reason: o.finishReason! });
    this.requestPromptTokens.observe(l, o.numPromptTokens);
    this.requestGenerationTokens.observe(l, t.tokens.length);
    const s = (ms: number) => ms / 1000;
    this.e2e.observe(l, s(t.finished! - t.arrival));
    if (t.firstScheduled !== null) {
      this.queue.observe(l, s(t.firstScheduled - t.arrival));
      this.inference.observe(l, s(t.finished! - t.firstScheduled));
    }
    if (t.firstToken === null) return;
    this.ttft.observe(l, s(t.firstToken - t.arrival));
    if (t.firstScheduled !== null) this.prefill.observe(l, s(t.firstToken - t.firstScheduled));
    this.decode.observe(l, s(t.finished! - t.firstToken));
    for (let i = 1; i < t.tokens.length; i++) this.itl.observe(l, s(t.tokens[i]! - t.tokens[i - 1]!));
    if (t.tokens.length > 1) this.tpot.observe(l, s((t.tokens.at(-1)! - t.firstToken) / (t.tokens.length - 1)));
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
