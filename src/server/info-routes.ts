// The routes around generation: models, health, version, tokenize and detokenize, and metrics.

import type { FastifyInstance } from 'fastify';
import { renderChat } from './chat-render.js';
import { invalidRequest } from './openai-error.js';
import { detokenizeRequestSchema, tokenizeRequestSchema } from './openai-schemas.js';
import { parseBody, type RouteHelpers } from './route-helpers.js';
import { TSLLM_VERSION } from '../util/version.js';


export function registerInfoRoutes(app: FastifyInstance, helpers: RouteHelpers & { isReady(): boolean; failure(): string | null }): void {
  app.get('/health', async (_req, reply) => {
    if (!helpers.isReady()) return reply.code(503).send({ status: helpers.failure() ? 'failed' : 'loading', ...(helpers.failure() ? { error: helpers.failure() } : {}) });
    return { status: 'ok' };
  });

  app.get('/version', async () => ({ version: TSLLM_VERSION }));

  app.get('/v1/models', async () => {
    const ctx = helpers.context();
    return {
      object: 'list',
      data: [{ id: ctx.servedModelName, object: 'model', created: ctx.created, owned_by: 'tsllm', root: ctx.engine.info.source, max_model_len: ctx.limits.maxModelLen }],
    };
  });

  app.post('/tokenize', async (request) => {
    const body = parseBody(tokenizeRequestSchema, request.body);
    const ctx = helpers.context(body.model);
    let tokens: number[];
    if ('messages' in body) tokens = renderChat(ctx, body.messages, body.add_generation_prompt ?? true);
    else {
      if (!ctx.tokenizer) throw invalidRequest('this model has no tokenizer', 'prompt');
      tokens = ctx.tokenizer.encode(body.prompt, { addSpecialTokens: body.add_special_tokens ?? true });
    }
    return { count: tokens.length, max_model_len: ctx.limits.maxModelLen, tokens };
  });

  app.post('/detokenize', async (request) => {
    const body = parseBody(detokenizeRequestSchema, request.body);
    const ctx = helpers.context(body.model);
    if (!ctx.tokenizer) throw invalidRequest('this model has no tokenizer', 'tokens');
    const vocab = ctx.engine.info.model.vocabSize;
    const bad = body.tokens.find((t) => t >= vocab);
    if (bad !== undefined) throw invalidRequest(`token id ${bad} is outside the vocabulary (0..${vocab - 1})`, 'tokens');
    return { prompt: ctx.tokenizer.decode(body.tokens) };
  });

  // What a router balances on (SGLang's /get_load, vLLM's DP load): requests here, the cache's fill,
  // the prefix-cache counters since start-up, and (once idle) the KV cache's audit.
  app.get('/load', async () => {
    const s = helpers.context().engine.stats;
    return {
      num_requests: (s?.numRunning ?? 0) + (s?.numWaiting ?? 0), num_running: s?.numRunning ?? 0, num_waiting: s?.numWaiting ?? 0,
      kv_cache_usage: s?.kvCacheUsage ?? 0, prefix_cache_queries: s?.prefixCacheQueries ?? 0, prefix_cache_hits: s?.prefixCacheHits ?? 0,
      kv_audit: s?.kvAudit ?? null,
      ...(s?.kvTransfer ? { kv_transfer: s.kvTransfer } : {}),
      ...kvEventsOf(helpers),
    };
  });

  app.get('/metrics', async (_req, reply) => {
    const ctx = helpers.context();
    reply.header('content-type', ctx.metrics.contentType);
    return ctx.metrics.text();
  });
}

/** Where a router subscribes to this engine's KV-cache events, and what the cache indexes now (absent without --kv-events-config). */
function kvEventsOf(helpers: RouteHelpers): Record<string, unknown> {
  const { info, stats } = helpers.context().engine;
  if (!info.kvEvents) return {};
  const { endpoint, replayEndpoint, topic } = info.kvEvents;
  return { kv_events: { endpoint, replay_endpoint: replayEndpoint, topic, block_size: info.config.blockSize, cached_blocks: stats?.cachedBlocks ?? 0 } };
}
