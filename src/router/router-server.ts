// tsllm's router as an HTTP server: the OpenAI routes forwarded to workers, its own /health, /load
// (the workers' loads, fresh) and /metrics, and the admin routes that list, add and remove workers
// at run time.

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import { UsageError } from '../util/errors.js';
import { forward, type Forwarder } from './forward.js';
import { invalidRequest, OpenAIError } from '../server/openai-error.js';
import { RouterMetrics } from './router-metrics.js';
import { CACHE_AWARE_DEFAULTS, createPolicy, type CacheAwareOptions, type PolicyName } from './routing-policy.js';
import { normalizeWorkerUrl, WorkerPool, type Worker } from './worker-pool.js';
import { forwardDisaggregated, type DisaggregatedForwarder } from './pd-forward.js';
import { mergeExpositions } from './metrics-merge.js';
import { KVEventIndex } from './kv-event-index.js';
import { KVEventFeeds } from './kv-event-feeds.js';

export interface RouterOptions {
  workers: string[];
  /** Prefill/decode disaggregation: these prefill workers (by `policy`); `workers` then decode (by least load). */
  prefillWorkers?: string[];
  policy: PolicyName;
  cacheAware?: CacheAwareOptions;
  /** Lets cache-aware match text prompts as tokens. */
  tokenizer?: Tokenizer | null;
  /** cache-aware: route by the tsllm workers' KV-cache events (an exact view) instead of the router's own trees. */
  kvEvents?: boolean;
  /** Health round period (default 5000 ms), its timeout (2000 ms), failed rounds before a worker leaves (2). */
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  failureThreshold?: number;
  /** Elements each worker's prefix tree keeps (default 2^22). */
  maxTreeSize?: number;
  /** /metrics also carries the workers' own metrics, labelled engine="i" (data-parallel replicas). */
  mergeWorkerMetrics?: boolean;
  /** Healthy workers needed before /health says ok (default 1). */
  requiredWorkers?: number;
  /** Workers tried per request (default 3). */
  maxAttempts?: number;
  /** Required as "Bearer KEY" on /v1 and the admin routes, and passed on to the workers. */
  apiKey?: string;
  logger?: boolean | Record<string, unknown>;
}

export interface Router {
  app: FastifyInstance;
  pool: WorkerPool;
  /** Disaggregated: the prefill workers (null otherwise). */
  prefillPool: WorkerPool | null;
  close(): Promise<void>;
}

const FORWARDED_POSTS = ['/v1/completions', '/v1/chat/completions', '/v1/responses', '/v1/embeddings', '/tokenize', '/detokenize'];
const workerSchema = z.object({ url: z.string(), role: z.enum(['prefill', 'decode']).optional() });
const DISAGGREGATED_POSTS = new Set(['/v1/completions', '/v1/chat/completions']);
const LOAD_FIELDS = ['num_requests', 'num_running', 'num_waiting', 'prefix_cache_queries', 'prefix_cache_hits'] as const;


export function createRouter(o: RouterOptions): Router {
  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit: 64 * 2 ** 20,
    genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : randomUUID()),
    requestTimeout: 0,
    forceCloseConnections: 'idle',
  });
  let feeds: KVEventFeeds | null = null;
  const newPool = () => new WorkerPool({
    healthIntervalMs: o.healthIntervalMs ?? 5000, healthTimeoutMs: o.healthTimeoutMs ?? 2000,
    failureThreshold: o.failureThreshold ?? 2, maxTreeSize: o.maxTreeSize ?? 2 ** 22,
    onHealthChange: (w) => app.log[w.healthy ? 'info' : 'warn']({ worker: w.url }, w.healthy ? 'worker in rotation' : 'worker out of rotation'),
    onLoad: (w) => feeds?.follow(w),
  });
  const pool = newPool();
  const prefillPool = o.prefillWorkers ? newPool() : null;
  const pools = prefillPool ? [prefillPool, pool] : [pool];
  const allWorkers = () => pools.flatMap((p) => p.workers);
  const metrics = new RouterMetrics(allWorkers);
  if (o.kvEvents) feeds = new KVEventFeeds(new KVEventIndex(), metrics, app.log);
  const forwarder = (p: WorkerPool, policy: PolicyName): Forwarder => ({
    pool: p, metrics, policyName: policy, needsKey: policy === 'cache-aware', kvIndex: policy === 'cache-aware' ? feeds?.index ?? null : null,
    policy: createPolicy(policy, o.cacheAware ?? CACHE_AWARE_DEFAULTS), tokenizer: o.tokenizer ?? null, maxAttempts: o.maxAttempts ?? 3,
  });
  const f = forwarder(pool, prefillPool ? 'least-load' : o.policy);
  const pd: DisaggregatedForwarder | null = prefillPool ? { prefill: forwarder(prefillPool, o.policy), decode: f, metrics } : null;
  for (const url of o.workers) pool.add(url);
  for (const url of o.prefillWorkers ?? []) prefillPool!.add(url);
  for (const p of pools) p.start();
  const roleOf = (w: Worker) => (prefillPool ? (prefillPool.workers.includes(w) ? 'prefill' : 'decode') : 'worker');

  // Bodies are forwarded as they came; only cache-aware parses them, and only for the prompt.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  if (o.apiKey) {
    const expected = `Bearer ${o.apiKey}`;
    app.addHook('onRequest', async (req, reply) => {
      if ((req.url.startsWith('/v1/') || req.url.startsWith('/workers')) && req.headers.authorization !== expected) {
        return reply.code(401).send(new OpenAIError(401, 'Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key').body());
      }
    });
  }
  app.setErrorHandler((error: Error & { statusCode?: number }, req, reply) => {
    if (error instanceof OpenAIError) return reply.code(error.status).send(error.body());
    if (error instanceof UsageError) return reply.code(400).send(invalidRequest(error.message).body());
    const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) req.log.error({ err: error }, 'router failed a request');
    return reply.code(status).send(new OpenAIError(status, error.message, status === 500 ? 'internal_error' : 'invalid_request_error').body());
  });

  const via = (method: 'GET' | 'POST', path: string) => (req: FastifyRequest, reply: FastifyReply) =>
    (pd && DISAGGREGATED_POSTS.has(path) ? forwardDisaggregated(pd, req, reply, path) : forward(f, req, reply, method, path));
  for (const path of FORWARDED_POSTS) app.post(path, via('POST', path));
  app.get('/v1/models', via('GET', '/v1/models'));

  app.get('/health', async (_req, reply) => {
    const n = pool.routable().length;
    const ok = n >= (o.requiredWorkers ?? 1);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : n > 0 ? 'waiting for workers' : 'no healthy worker', workers: n });
  });
  app.get('/load', async () => {
    await Promise.all(pools.map((p) => p.checkAll()));
    const sum = Object.fromEntries(LOAD_FIELDS.map((k) => [k, allWorkers().reduce((s, w) => s + (w.load?.[k] ?? 0), 0)]));
    return { ...sum, workers: allWorkers().map((w) => describe(w, roleOf(w), feeds)) };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    const own = await metrics.registry.metrics();
    if (!o.mergeWorkerMetrics) return own;
    const texts = await Promise.all(pool.workers.map(async (w, i) => ({
      engine: String(i), text: await fetch(`${w.url}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => (r.ok ? r.text() : ''), () => ''),
    })));
    return own + mergeExpositions(texts);
  });
  app.get('/workers', async () => ({ policy: o.policy, disaggregated: pd !== null, workers: allWorkers().map((w) => describe(w, roleOf(w), feeds)) }));
  app.post('/workers', async (req, reply) => {
    const { url, role } = workerBody(req.body);
    if (role && !prefillPool) throw new UsageError('"role" is for a disaggregated router (--pd)');
    if (prefillPool && !role) throw new UsageError('a disaggregated router needs "role": "prefill" or "decode"');
    const w = (role === 'prefill' ? prefillPool! : pool).add(url);
    app.log.info({ worker: w.url, role: roleOf(w) }, 'worker added');
    return reply.code(201).send(describe(w, roleOf(w), feeds));
  });
  app.delete('/workers', async (req, reply) => {
    const query = (req.query as { url?: string }).url;
    const url = query ?? workerBody(req.body).url;
    const owner = pools.find((p) => p.workers.some((w) => w.url === normalizeWorkerUrl(url)));
    if (!owner) return reply.code(404).send(new OpenAIError(404, `worker ${url} is not in the pool`, 'invalid_request_error', null, 'worker_not_found').body());
    const w = owner.workers.find((x) => x.url === normalizeWorkerUrl(url))!;
    const role = roleOf(w);
    owner.remove(url);
    feeds?.unfollow(w.url);
    app.log.info({ worker: w.url, role }, 'worker removed');
    return describe(w, role, feeds);
  });

  return {
    app, pool, prefillPool,
    async close() {
      for (const p of pools) p.stop();
      feeds?.close();
      await app.close();
    },
  };
}

function workerBody(body: unknown): { url: string; role?: 'prefill' | 'decode' } {
  let parsed: unknown = body;
  if (Buffer.isBuffer(body)) {
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new UsageError('the body must be JSON: {"url": "http://host:port"}');
    }
  }
  const r = workerSchema.safeParse(parsed);
  if (!r.success) throw new UsageError('the body must be {"url": "http://host:port"} (with "role": "prefill" or "decode" on a disaggregated router)');
  return r.data;
}

function describe(w: Worker, role: string, feeds: KVEventFeeds | null): Record<string, unknown> {
  const view = feeds ? { kv_view_blocks: feeds.index.numBlocksOf(w.url) } : {};
  return { url: w.url, role, healthy: w.healthy, in_flight: w.inFlight, load: w.load, tree_size: w.tree.size, ...view };
}
