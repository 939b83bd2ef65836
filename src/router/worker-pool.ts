// The router's workers: their URLs, whether they answer, what the router has in flight at each, and
// what each last said about its load. A health round asks every worker's /health (and a tsllm worker's
// /load); a worker that fails `failureThreshold` rounds in a row, or refuses a connection, leaves the
// rotation, and the first good answer puts it back.

import { UsageError } from '../util/errors.js';
import { PrefixTree } from './prefix-tree.js';

/** What a tsllm worker reports at GET /load. */
export interface WorkerLoad {
  num_requests: number;
  num_running: number;
  num_waiting: number;
  kv_cache_usage: number;
  prefix_cache_queries: number;
  prefix_cache_hits: number;
  /** The KV cache's accounting problems once idle (empty: consistent), null while busy. */
  kv_audit: string[] | null;
  /** Where the worker publishes its KV-cache events (with --kv-events-config), its block size, and how many blocks its prefix cache indexes. */
  kv_events?: { endpoint: string; replay_endpoint: string | null; topic: string; block_size?: number; cached_blocks: number };
}

export interface Worker {
  url: string;
  /** null until the first health answer. */
  healthy: boolean | null;
  inFlight: number;
  failures: number;
  load: WorkerLoad | null;
  /** false once the worker answered 404 at /load (not a tsllm server). */
  reportsLoad: boolean;
  tree: PrefixTree;
}

export interface WorkerPoolOptions {
  healthIntervalMs: number;
  healthTimeoutMs: number;
  failureThreshold: number;
  maxTreeSize: number;
  /** Called when a worker enters or leaves the rotation. */
  onHealthChange?: (w: Worker) => void;
  /** Called after a worker's /load was read. */
  onLoad?: (w: Worker) => void;
}

export function normalizeWorkerUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`worker URL "${url}" is not a URL (expected e.g. http://127.0.0.1:8001)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`worker URL "${url}" must be http or https`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

export class WorkerPool {
  readonly workers: Worker[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: WorkerPoolOptions) {}

  add(url: string): Worker {
    const norm = normalizeWorkerUrl(url);
    if (this.workers.some((w) => w.url === norm)) throw new UsageError(`worker ${norm} is already in the pool`);
    const w: Worker = { url: norm, healthy: null, inFlight: 0, failures: 0, load: null, reportsLoad: true, tree: new PrefixTree(this.o.maxTreeSize) };
    this.workers.push(w);
    void this.check(w);
    return w;
  }

  remove(url: string): Worker | null {
    const norm = normalizeWorkerUrl(url);
    const i = this.workers.findIndex((w) => w.url === norm);
    return i < 0 ? null : this.workers.splice(i, 1)[0]!;
  }

  routable(): Worker[] {
    return this.workers.filter((w) => w.healthy === true);
  }

  /** A connection to `w` failed: out of the rotation until a health round finds it again. */
  markDown(w: Worker): void {
    w.failures = Math.max(w.failures, this.o.failureThreshold);
    this.setHealthy(w, false);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.checkAll(), this.o.healthIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  checkAll(): Promise<void> {
    return Promise.all(this.workers.map((w) => this.check(w))).then(() => {});
  }

  private async check(w: Worker): Promise<void> {
    const get = (path: string) => fetch(`${w.url}${path}`, { signal: AbortSignal.timeout(this.o.healthTimeoutMs) });
    const ok = await get('/health').then(async (r) => {
      await r.body?.cancel();
      return r.status === 200;
    }, () => false);
    if (ok && w.reportsLoad) {
      await get('/load').then(async (r) => {
        if (r.status === 404) w.reportsLoad = false;
        if (r.ok) {
          w.load = (await r.json()) as WorkerLoad;
          this.o.onLoad?.(w);
        } else await r.body?.cancel();
      }, () => {});
    }
    if (ok) w.failures = 0;
    else w.failures++;
    if (ok) this.setHealthy(w, true);
    else if (w.failures >= this.o.failureThreshold || w.healthy === null) this.setHealthy(w, false);
  }

  private setHealthy(w: Worker, healthy: boolean): void {
    if (w.healthy === healthy) return;
    const first = w.healthy === null;
    w.healthy = healthy;
    // A worker still starting is not news; one leaving or (re)joining the rotation is.
    if (!(first && !healthy)) this.o.onHealthChange?.(w);
  }
}
