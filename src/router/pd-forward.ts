// Prefill/decode disaggregation through the router: the request goes first to a prefill worker with
// max_tokens 1 and kv_transfer_params {do_remote_decode: true}; that worker computes the prompt's KV,
// keeps its blocks under a lease and answers where they wait. The request then goes to a decode worker
// with that answer as its kv_transfer_params: it pulls the blocks, decodes and streams to the client.
// A prefill side that cannot be reached costs only speed: the decode worker computes the prompt itself.
// A request the prefill side rejects as invalid (4xx) gets that answer.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { abortOnClientClose, dispatch, forward, keyOf, requestHeaders, type Forwarder } from './forward.js';
import { OpenAIError } from '../server/openai-error.js';
import type { RouterMetrics } from './router-metrics.js';

export interface DisaggregatedForwarder {
  prefill: Forwarder;
  decode: Forwarder;
  metrics: RouterMetrics;
}

export async function forwardDisaggregated(pd: DisaggregatedForwarder, req: FastifyRequest, reply: FastifyReply, path: string): Promise<void> {
  const raw = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    return forward(pd.decode, req, reply, 'POST', path);
  }
  // Several samples, or a client doing its own disaggregation: nothing to split.
  if (!body || typeof body !== 'object' || Array.isArray(body) || (typeof body['n'] === 'number' && body['n'] > 1) || body['kv_transfer_params'] != null) {
    return forward(pd.decode, req, reply, 'POST', path);
  }
  const client = abortOnClientClose(reply);
  let params: unknown = null;
  try {
    const { stream_options: _so, max_completion_tokens: _mct, ...rest } = body;
    const prefillBody = Buffer.from(JSON.stringify({ ...rest, max_tokens: 1, stream: false, kv_transfer_params: { do_remote_decode: true } }));
    const d = await dispatch(pd.prefill, 'POST', path, requestHeaders(req), prefillBody, keyOf(pd.prefill, prefillBody), client.signal).catch((e: unknown) => {
      if (e instanceof OpenAIError) return undefined; // No prefill server answered.
      throw e;
    });
    if (d === null) return; // The client went away.
    if (d) {
      let outcome = String(d.res.status);
      try {
        if (d.res.ok) {
          params = (JSON.parse(await d.res.text()) as { kv_transfer_params?: unknown }).kv_transfer_params ?? null;
          outcome = 'ok';
        } else if (d.res.status >= 400 && d.res.status < 500) {
          const text = await d.res.text();
          return void reply.code(d.res.status).header('content-type', d.res.headers['content-type'] ?? 'application/json').send(text);
        } else d.res.discard();
      } catch {
        outcome = client.signal.aborted ? 'aborted' : 'failed';
      } finally {
        d.end(outcome);
      }
      if (client.signal.aborted) return;
    }
  } finally {
    client.release();
  }
  if (!params) pd.metrics.prefillFallbacks.inc();
  return forward(pd.decode, req, reply, 'POST', path, params ? Buffer.from(JSON.stringify({ ...body, kv_transfer_params: params })) : raw);
}
