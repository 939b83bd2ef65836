// KV-cache event publishing settings, read from vLLM's `--kv-events-config` JSON: where the ZeroMQ
// PUB socket binds, where missed batches can be asked for again, the topic, and how many batches are
// kept for that.

import { z } from 'zod';
import { UsageError } from '../../util/errors.js';
import { parseJsonOption } from '../../util/json-option.js';

export interface KVEventsConfig {
  /** ZeroMQ endpoint the PUB socket binds, e.g. tcp://*:5557. */
  endpoint: string;
  /** ZeroMQ endpoint of the replay socket (ROUTER), or null for none. */
  replayEndpoint: string | null;
  topic: string;
  /** Batches kept for replay. */
  bufferSteps: number;
}

export const KV_EVENTS_DEFAULTS = { endpoint: 'tcp://*:5557', topic: '', bufferSteps: 10_000 };

const schema = z.object({
  enable_kv_cache_events: z.boolean().optional(),
  publisher: z.enum(['null', 'zmq']).optional(),
  endpoint: z.string().optional(),
  replay_endpoint: z.string().nullable().optional(),
  topic: z.string().optional(),
  buffer_steps: z.number().int().positive().optional(),
  hwm: z.number().int().min(0).optional(),
  max_queue_size: z.number().int().positive().optional(),
}).strict();

/** vLLM's `--kv-events-config` JSON; null when it leaves publishing off. */
export function parseKVEventsConfigJson(json: string): KVEventsConfig | null {
  const c = parseJsonOption('--kv-events-config', json, schema);
  if (c.enable_kv_cache_events === false || c.publisher === 'null') return null;
  const endpoint = c.endpoint ?? KV_EVENTS_DEFAULTS.endpoint;
  for (const e of [endpoint, c.replay_endpoint]) {
    if (e && !/^(tcp|ipc|inproc):\/\//.test(e)) throw new UsageError(`--kv-events-config: "${e}" is not a ZeroMQ endpoint (expected e.g. tcp://*:5557)`);
  }
  return { endpoint, replayEndpoint: c.replay_endpoint ?? null, topic: c.topic ?? KV_EVENTS_DEFAULTS.topic, bufferSteps: c.buffer_steps ?? KV_EVENTS_DEFAULTS.bufferSteps };
}

/**
 * The config of data-parallel replica `rank`: TCP ports move up by the rank, as vLLM's do, so the
 * replicas of one `serve --data-parallel-size N` do not collide.
 */
export function offsetForRank(c: KVEventsConfig, rank: number): KVEventsConfig {
  const shift = (e: string) => e.replace(/^(tcp:\/\/.*:)(\d+)$/, (_m, head: string, port: string) => (port === '0' ? `${head}0` : `${head}${Number(port) + rank}`));
  return { ...c, endpoint: shift(c.endpoint), replayEndpoint: c.replayEndpoint ? shift(c.replayEndpoint) : null };
}
