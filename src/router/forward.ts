// One request through the router: pick a worker, send the body as it came, and pass the answer back
// byte for byte as it arrives (streams stay streams). A worker that refuses the connection or answers
// 502/503 before any byte has gone to the client is skipped and the request tried on another; once
// bytes flow there is no retry. A client that goes away aborts the upstream request, so the worker
// frees its sequence.

import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import type { RouterMetrics } from './router-metrics.js';
import { promptTokenIds, routingKey } from './request-key.js';
import type { KVEventIndex } from './kv-event-index.js';
import { upstream, type UpstreamResponse } from './upstream.js';
import { OpenAIError } from '../server/openai-error.js';
import type { RoutingPolicy } from './routing-policy.js';
import type { Worker, WorkerPool } from './worker-pool.js';

export interface Forwarder {
  pool: WorkerPool;
  policy: RoutingPolicy;
  /** Whether the policy reads the prompt (only cache-aware parses bodies). */
  needsKey: boolean;
  policyName: string;
  tokenizer: Tokenizer | null;
  /** cache-aware from the workers' KV-cache events (null: from the router's own prefix trees). */
  kvIndex: KVEventIndex | null;
  metrics: RouterMetrics;
  maxAttempts: number;
}

const PASSED_HEADERS = ['content-type', 'authorization', 'accept', 'x-request-id'];
const DROPPED_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-encoding', 'content-length']);

/** A worker's answer, with the request still counted in its load until `end` is called. */
export interface Dispatched {
  worker: Worker;
  res: UpstreamResponse;
  end(outcome: string): void;
}

export function requestHeaders(req: FastifyRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of PASSED_HEADERS) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  headers['x-request-id'] ??= String(req.id);
  return headers;
}

/** What cache-aware matches: the prompt's token ids against the KV events (`exact`), else its key against the prefix trees. */
export interface RoutingKey {
  tokens: number[];
  exact: boolean;
}

const NO_KEY: RoutingKey = { tokens: [], exact: false };

/** The routing key of a JSON body (empty when the policy needs none, or the body is not JSON). */
export function keyOf(f: Forwarder, body: Buffer | undefined): RoutingKey {
  if (!f.needsKey || !body) return NO_KEY;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return NO_KEY; // The worker will say what is wrong with the body.
  }
  if (!parsed || typeof parsed !== 'object') return NO_KEY;
  const ids = f.kvIndex ? promptTokenIds(parsed as Record<string, unknown>, f.tokenizer) : null;
  return ids ? { tokens: ids, exact: true } : { tokens: routingKey(parsed as Record<string, unknown>, f.tokenizer), exact: false };
}

/** Sends to the policy's pick, then to others while they fail before answering; throws a 503 OpenAIError when none answers. */
export async function dispatch(f: Forwarder, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body: Buffer | undefined, key: RoutingKey, signal: AbortSignal): Promise<Dispatched | null> {
  const cacheOf = (w: Worker) => (key.exact ? f.kvIndex!.viewOf(w.url) : w.tree);
  const tried = new Set<Worker>();
  let lastError = 'no worker is healthy';
  for (let attempt = 0; attempt < f.maxAttempts; attempt++) {
    const candidates = f.pool.routable().filter((w) => !tried.has(w));
    if (candidates.length === 0) break;
    const choice = f.policy.choose(candidates.map((w, index) => ({ index, inFlight: w.inFlight, kvUsage: w.load?.kv_cache_usage ?? 0, tree: cacheOf(w) })), key.tokens);
    const w = candidates[choice.index]!;
    tried.add(w);
    if (choice.rebalanced) f.metrics.balancing.inc({ policy: f.policyName });
    if (choice.cacheHit === true) f.metrics.cacheHits.inc({ worker: w.url });
    if (choice.cacheHit === false) f.metrics.cacheMisses.inc({ worker: w.url });
    // At routing time, as SGLang does, so a burst of one prefix sticks before the first answer.
    if (f.needsKey && !key.exact) w.tree.insert(key.tokens);
    const unroute = key.exact ? f.kvIndex!.viewOf(w.url).routedHere(key.tokens) : null;
    w.inFlight++;
    const end = (outcome: string) => {
      w.inFlight--;
      unroute?.();
      f.metrics.requests.inc({ worker: w.url, outcome });
    };
    let res: UpstreamResponse;
    try {
      res = await upstream(`${w.url}${path}`, { method, headers, ...(body ? { body } : {}), signal });
    } catch (e) {
      if (signal.aborted) {
        end('aborted');
        return null;
      }
      end('failed');
      f.pool.markDown(w);
      f.metrics.retries.inc({ worker: w.url });
      lastError = `${w.url} failed: ${(e as Error).message}`;
      continue;
    }
    const more = attempt + 1 < f.maxAttempts && f.pool.routable().some((x) => !tried.has(x));
    if ((res.status === 502 || res.status === 503) && more) {
      res.discard();
      end(String(res.status));
      f.metrics.retries.inc({ worker: w.url });
      lastError = `${w.url} answered ${res.status}`;
      continue;
    }
    return { worker: w, res, end };
  }
  if (tried.size === 0) f.metrics.noWorker.inc();
  throw new OpenAIError(503, `no worker could take the request: ${lastError}`, 'server_error', null, 'no_healthy_worker');
}

/** Aborts `signal`'s controller when the client goes away before the answer is complete. */
export function abortOnClientClose(reply: FastifyReply): { signal: AbortSignal; release(): void } {
  const abort = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) abort.abort();
  };
  reply.raw.on('close', onClose);
  return { signal: abort.signal, release: () => reply.raw.off('close', onClose) };
}

export async function forward(f: Forwarder, req: FastifyRequest, reply: FastifyReply, method: 'GET' | 'POST', path: string, body?: Buffer): Promise<void> {
  const payload = method === 'POST' ? body ?? (req.body as Buffer | undefined) ?? Buffer.alloc(0) : undefined;
  const client = abortOnClientClose(reply);
  try {
    const d = await dispatch(f, method, path, requestHeaders(req), payload, keyOf(f, payload), client.signal);
    if (!d) return;
    let outcome = d.res.ok ? 'ok' : String(d.res.status);
    try {
      reply.hijack();
      if (!(await pipe(d.res, d.worker.url, reply.raw, client.signal))) outcome = client.signal.aborted ? 'aborted' : 'failed';
    } finally {
      d.end(outcome);
    }
  } finally {
    client.release();
  }
}

/** Copies the worker's answer to the client as it arrives (saying which worker in x-tsllm-worker); false if either side broke off. */
async function pipe(res: UpstreamResponse, worker: string, out: ServerResponse, signal: AbortSignal): Promise<boolean> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !DROPPED_HEADERS.has(k)) headers[k] = v;
  out.writeHead(res.status, { ...headers, 'x-tsllm-worker': worker });
  out.flushHeaders();
  try {
    for await (const chunk of res.body) {
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), once(out, 'close')]);
      if (signal.aborted) return false;
    }
    out.end();
    return true;
  } catch {
    out.destroy();
    return false;
  }
}
