// POST /v1/embeddings: one input or a list (text or token ids), each an embedding request in the
// engine's batch, pooled as the model says; vectors as JSON floats or base64 little-endian float32
// (what the official clients ask for by default).

import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { poolingFor, type PoolingParams } from '../engine/pooling/pooler.js';
import { UsageError } from '../util/errors.js';
import { abortOnDisconnect, checkCapacity } from './generation.js';
import { invalidRequest } from './openai-error.js';
import { embeddingRequestSchema } from './openai-schemas.js';
import { parseBody, promptInputIds, type RouteHelpers } from './route-helpers.js';

export function registerEmbeddings(app: FastifyInstance, helpers: RouteHelpers): void {
  app.post('/v1/embeddings', async (request, reply) => {
    const body = parseBody(embeddingRequestSchema, request.body);
    const ctx = helpers.context(body.model);
    const prompts = promptInputIds(ctx, body.input, 'input');
    const { pooling: modelPooling, model } = ctx.engine.info;
    let pooling: PoolingParams;
    try {
      pooling = poolingFor(modelPooling, model.hiddenSize, body.dimensions ?? undefined);
    } catch (e) {
      throw e instanceof UsageError ? invalidRequest(e.message, 'dimensions') : e;
    }
    checkCapacity(ctx, prompts.length);
    const id = `embd-${randomUUID().replaceAll('-', '')}`;
    const ids = prompts.map((_, k) => `${id}-${k}`);
    const done = abortOnDisconnect(ctx, reply, ids);
    const outputs = await ctx.engine.embedAll(prompts, pooling, ids).finally(done);
    const base64 = body.encoding_format === 'base64';
    const data = outputs.map(({ embedding: e }, index) => (
      { object: 'embedding', index, embedding: base64 ? Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('base64') : Array.from(e) }));
    const promptTokens = prompts.reduce((s, p) => s + p.length, 0);
    return {
      id, object: 'list', created: Math.floor(Date.now() / 1000), model: ctx.servedModelName, data,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
  });
}
