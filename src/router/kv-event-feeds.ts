// Which workers' KV-cache events the router follows. A tsllm worker started with --kv-events-config
// says at /load where it publishes; the router subscribes on the first such answer, and again (with
// an emptied view) when the endpoint changes, as it does when a worker restarts on another port.
// A wildcard bind address ("*", 0.0.0.0, ::) is reached at the worker's own host.

import type { FastifyBaseLogger } from 'fastify';
import type { KVEventIndex } from './kv-event-index.js';
import { KVEventSubscriber, type KVEventSource } from './kv-event-subscriber.js';
import type { RouterMetrics } from './router-metrics.js';
import type { Worker } from './worker-pool.js';

/** `endpoint` as reachable from here: a wildcard host becomes the worker's. */
export function reachableEndpoint(endpoint: string, workerUrl: string): string {
  const host = new URL(workerUrl).hostname;
  return endpoint.replace(/^tcp:\/\/(\*|0\.0\.0\.0|\[::\]|::)(:\d+)$/, (_m, _wild: string, port: string) => `tcp://${host}${port}`);
}

export class KVEventFeeds {
  private readonly subs = new Map<string, KVEventSubscriber>();

  constructor(readonly index: KVEventIndex, private readonly metrics: RouterMetrics, private readonly log: FastifyBaseLogger) {}

  /** After a health round read `w`'s /load. */
  follow(w: Worker): void {
    const info = w.load?.kv_events;
    if (!info) return;
    // Known before any event, so requests routed before the first one already mark their prefix.
    if (this.index.blockSize === 0 && info.block_size) this.index.blockSize = info.block_size;
    const source: KVEventSource = {
      endpoint: reachableEndpoint(info.endpoint, w.url),
      replayEndpoint: info.replay_endpoint ? reachableEndpoint(info.replay_endpoint, w.url) : null,
      topic: info.topic,
    };
    const current = this.subs.get(w.url);
    if (current && current.source.endpoint === source.endpoint) return;
    current?.close();
    const view = this.index.viewOf(w.url);
    view.clear();
    const sub = new KVEventSubscriber(source, {
      batch: (b) => {
        for (const e of b.events) view.apply(e);
        this.metrics.kvEvents.inc({ worker: w.url }, b.events.length);
      },
      reset: () => {
        view.clear();
        this.log.info({ worker: w.url }, 'the worker\'s KV events started over (it restarted): its view is emptied');
      },
      problem: (message) => {
        this.metrics.kvEventProblems.inc({ worker: w.url });
        this.log.warn({ worker: w.url }, message);
      },
    });
    this.subs.set(w.url, sub);
    sub.start();
    this.log.info({ worker: w.url, ...source }, 'following the worker\'s KV-cache events');
  }

  unfollow(url: string): void {
    this.subs.get(url)?.close();
    this.subs.delete(url);
    this.index.drop(url);
  }

  close(): void {
    for (const url of [...this.subs.keys()]) this.unfollow(url);
  }
}
