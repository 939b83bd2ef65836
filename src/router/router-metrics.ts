// The router's Prometheus metrics, per worker: requests by outcome, requests in flight, the cache-aware
// policy's hits and misses, retries, health, and the balancing events (a request routed by load
// because the load was imbalanced).

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Worker } from './worker-pool.js';

export class RouterMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'worker' | 'outcome'>;
  readonly cacheHits: Counter<'worker'>;
  readonly cacheMisses: Counter<'worker'>;
  readonly retries: Counter<'worker'>;
  readonly balancing: Counter<'policy'>;
  readonly noWorker: Counter;
  readonly prefillFallbacks: Counter;
  readonly kvEvents: Counter<'worker'>;
  readonly kvEventProblems: Counter<'worker'>;

  constructor(workers: () => readonly Worker[]) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tsllm_router_' });
    this.requests = new Counter({ name: 'tsllm_router:requests_total', help: 'Requests sent to each worker, by outcome (ok, error status, failed, aborted).', labelNames: ['worker', 'outcome'], registers });
    this.cacheHits = new Counter({ name: 'tsllm_router:cache_hits_total', help: 'Requests the cache-aware policy routed to a worker whose prefix tree matched them.', labelNames: ['worker'], registers });
    this.cacheMisses = new Counter({ name: 'tsllm_router:cache_misses_total', help: 'Requests the cache-aware policy routed by load because no tree matched them.', labelNames: ['worker'], registers });
    this.retries = new Counter({ name: 'tsllm_router:retries_total', help: 'Requests retried on another worker because this one failed before answering.', labelNames: ['worker'], registers });
    this.balancing = new Counter({ name: 'tsllm_router:balancing_events_total', help: 'Requests routed by load, not by cache, because the load was imbalanced.', labelNames: ['policy'], registers });
    this.noWorker = new Counter({ name: 'tsllm_router:no_worker_total', help: 'Requests refused because no worker was healthy.', registers });
    this.prefillFallbacks = new Counter({ name: 'tsllm_router:pd_prefill_fallbacks_total', help: 'Disaggregated requests sent to a decode worker without remote KV because no prefill worker answered (it computes the prompt).', registers });
    this.kvEvents = new Counter({ name: 'tsllm_router:kv_events_total', help: 'KV-cache events received from each worker (blocks stored, removed, all cleared).', labelNames: ['worker'], registers });
    this.kvEventProblems = new Counter({ name: 'tsllm_router:kv_event_problems_total', help: 'KV event batches unreadable, replays unanswered, or subscriptions that stopped, per worker.', labelNames: ['worker'], registers });
    const perWorker = (name: string, help: string, value: (w: Worker) => number | undefined) => new Gauge({
      name, help, labelNames: ['worker'], registers,
      collect() {
        this.reset();
        for (const w of workers()) {
          const v = value(w);
          if (v !== undefined) this.set({ worker: w.url }, v);
        }
      },
    });
    perWorker('tsllm_router:in_flight', 'Requests the router has in flight at each worker.', (w) => w.inFlight);
    perWorker('tsllm_router:worker_healthy', '1 while the worker is in the rotation.', (w) => (w.healthy ? 1 : 0));
    perWorker('tsllm_router:worker_kv_cache_usage', 'KV cache usage the worker last reported (tsllm workers).', (w) => w.load?.kv_cache_usage);
    perWorker('tsllm_router:worker_prefix_cache_hits', 'Prefix-cache hit tokens the worker last reported (tsllm workers).', (w) => w.load?.prefix_cache_hits);
    perWorker('tsllm_router:worker_prefix_cache_queries', 'Prefix-cache queried tokens the worker last reported (tsllm workers).', (w) => w.load?.prefix_cache_queries);
  }
}
