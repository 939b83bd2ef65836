// The HTTP server: fastify with pino request logs, OpenAI-shaped errors for everything a client can
// get wrong, the API key check, and the routes. It listens while the model is still loading (health
// says 503 until the engine is ready), and closes by draining requests in flight.

import { WorldFailedError } from '../distributed/world-failed-error.js';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { AsyncEngine } from '../engine/async-engine.js';
import { EngineMetrics } from '../metrics/engine-metrics.js';
import { ModelLoadError, UsageError } from '../util/errors.js';
import { registerChat } from './chat-route.js';
import { registerResponses } from './responses-route.js';
import { registerCompletions } from './completions-route.js';
import { registerEmbeddings } from './embeddings-route.js';
import { registerInfoRoutes } from './info-routes.js';
import { registerWebUi } from './webui-route.js';
import { toolCallParserFor } from './tools/tool-call-parsers.js';
import { reasoningParserFor } from './reasoning-parser.js';
import { OpenAIError } from './openai-error.js';
import { parseKVTransferParams } from '../engine/kv-transfer/kv-transfer-config.js';
import type { RouteHelpers } from './route-helpers.js';
import type { ServerContext } from './server-context.js';

export interface ServerOptions {
  /** The name clients use as `model` (default: the model's path). */
  servedModelName?: string;
  apiKey?: string;
  /** Sequences that may wait beyond max-num-seqs before requests get 503 (default 1024). */
  maxWaiting?: number;
  /** Largest request body in bytes (default 8 MiB). */
  bodyLimit?: number;
  /** How the model writes tool calls (default: detected from its chat template). */
  toolCallParser?: string;
  /** How it separates its thinking: a parser name, or 'none' (default: detected). */
  reasoningParser?: string;
  /** Serve the chat page at GET / (default true). */
  webui?: boolean;
  /** pino options, or false for no logs. */
  logger?: boolean | Record<string, unknown>;
}

export interface TsllmServer {
  app: FastifyInstance;
  /** Resolves once the engine is ready (rejects if it failed to load). */
  ready: Promise<ServerContext>;
  /** Stops accepting, lets requests in flight finish, then stops the engine. */
  close(): Promise<void>;
}

export function createServer(engineStart: Promise<AsyncEngine>, options: ServerOptions = {}): TsllmServer {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 8 * 2 ** 20,
    genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : randomUUID()),
    // Streams can be long: the server never cuts them short.
    requestTimeout: 0,
    forceCloseConnections: 'idle',
  });
  let ctx: ServerContext | null = null;
  let loadError: Error | null = null;

  const ready = engineStart.then((engine) => {
    const maxModelLen = engine.info.maxSequenceTokens;
    const metrics = new EngineMetrics(options.servedModelName ?? engine.info.source, maxModelLen, engine.info.config);
    engine.onOutputs = (outputs, stats) => metrics.observeStep(outputs, stats);
    ctx = {
      engine, tokenizer: engine.tokenizer, metrics,
      servedModelName: options.servedModelName ?? engine.info.source,
      limits: { maxModelLen, vocabSize: engine.info.model.vocabSize, defaults: engine.info.generationDefaults },
      maxWaiting: options.maxWaiting ?? 1024,
      created: Math.floor(Date.now() / 1000),
      toolParser: toolCallParserFor(engine.tokenizer?.chatTemplate ?? null, options.toolCallParser),
      reasoningParser: reasoningParserFor(engine.tokenizer?.chatTemplate ?? null, options.reasoningParser),
    };
    return ctx;
  });
  ready.catch((e: Error) => {
    loadError = e;
  });

  const helpers: RouteHelpers & { isReady(): boolean; failure(): string | null } = {
    failure: () => ctx?.engine.failed?.message ?? null,
    isReady: () => ctx !== null && ctx.engine.failed === null,
    context(model) {
      if (ctx?.engine.failed) throw new OpenAIError(503, ctx.engine.failed.message, 'server_error', null, 'engine_failed');
      if (!ctx) {
        if (loadError) throw new OpenAIError(503, `the model failed to load: ${loadError.message}`, 'server_error', null, 'model_load_failed');
        throw new OpenAIError(503, 'the model is still loading', 'server_error', null, 'model_loading', 1);
      }
      if (model !== undefined && model !== null && model !== ctx.servedModelName) {
        throw new OpenAIError(404, `The model \`${model}\` does not exist. This server serves \`${ctx.servedModelName}\`.`, 'invalid_request_error', 'model', 'model_not_found');
      }
      return ctx;
    },
  };

  if (options.apiKey) {
    const expected = `Bearer ${options.apiKey}`;
    app.addHook('onRequest', async (req) => {
      if (req.url.startsWith('/v1/') && req.headers.authorization !== expected) {
        throw new OpenAIError(401, 'Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key');
      }
    });
  }

  app.setErrorHandler((error: FastifyError | Error, req, reply) => {
    const e = toOpenAIError(error);
    if (ctx && e.status < 500) releaseRemoteKv(ctx, req.body);
    if (e.status >= 500 && e.type === 'internal_error') req.log.error({ err: error }, 'request failed');
    if (e.retryAfter !== undefined) reply.header('retry-after', String(e.retryAfter));
    void reply.code(e.status).send(e.body());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(new OpenAIError(404, `no route ${req.method} ${req.url}`, 'invalid_request_error', null, 'not_found').body());
  });

  registerCompletions(app, helpers);
  registerChat(app, helpers);
  registerResponses(app, helpers);
  registerEmbeddings(app, helpers);
  registerInfoRoutes(app, helpers);
  if (options.webui !== false) registerWebUi(app);

  return {
    app,
    ready,
    async close() {
      await app.close();
      const c = ctx as ServerContext | null;
      if (c) await c.engine.close();
      else await engineStart.then((e) => e.close(), () => {});
    },
  };
}

/** A refused request that carried a prefill server's blocks ends their lease now, not at its expiry. */
function releaseRemoteKv(ctx: ServerContext, body: unknown): void {
  const params = body && typeof body === 'object' ? (body as { kv_transfer_params?: unknown }).kv_transfer_params : undefined;
  if (!params) return;
  try {
    const t = parseKVTransferParams(params);
    if (t && 'doRemotePrefill' in t) ctx.engine.releaseRemoteKv(t.remote);
  } catch {
    // Malformed: there is no lease to name.
  }
}

function toOpenAIError(error: Error): OpenAIError {
  if (error instanceof OpenAIError) return error;
  if (error instanceof UsageError) return new OpenAIError(400, error.message, 'invalid_request_error');
  if (error instanceof ModelLoadError) return new OpenAIError(503, error.message, 'server_error');
  if (error instanceof WorldFailedError) return new OpenAIError(503, error.message, 'server_error', null, 'engine_failed');
  if (error.name === 'KVTransferError') return new OpenAIError(503, error.message, 'server_error', null, 'kv_transfer_failed');
  const fe = error as FastifyError;
  if (fe.statusCode === 413) return new OpenAIError(413, `the request body is larger than the server accepts (${fe.message})`, 'invalid_request_error', null, 'request_too_large');
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new OpenAIError(fe.statusCode, fe.message, 'invalid_request_error', null, fe.code ?? null);
  }
  return new OpenAIError(500, `internal server error: ${error.message}`, 'internal_error');
}
