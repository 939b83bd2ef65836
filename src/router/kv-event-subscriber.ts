// Follows one worker's KV-cache events (ZeroMQ SUB, vLLM's framing: [topic, seq, batch]). It first asks
// the replay socket for every batch the worker still keeps, so a router that starts after its workers
// knows what they hold; after that, a gap in seq is filled from the replay socket the same way. A seq
// already seen is a batch that came both ways, unless it is newer than the last one applied: then the
// worker restarted and numbers its batches from 0 again, so its view is emptied first.

import { Dealer, Subscriber } from 'zeromq';
import { decodeBatch, type KVEventBatch } from '../engine/kv-events/kv-event-wire.js';

export interface KVEventSource {
  endpoint: string;
  replayEndpoint: string | null;
  topic: string;
}

export interface SubscriberHooks {
  batch(b: KVEventBatch): void;
  /** The worker restarted: what it held is gone. */
  reset(): void;
  /** A batch that could not be read, or a replay that did not answer. */
  problem(message: string): void;
}

const REPLAY_TIMEOUT_MS = 2000;

const replaySocket = () => new Dealer({ linger: 0, receiveTimeout: REPLAY_TIMEOUT_MS });

const seqBytes = (seq: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(seq));
  return b;
};

export class KVEventSubscriber {
  private readonly sub = new Subscriber({ linger: 0 });
  private replay: Dealer | null;
  private last = -1;
  private lastTs = -Infinity;
  private closed = false;

  constructor(readonly source: KVEventSource, private readonly hooks: SubscriberHooks) {
    this.replay = source.replayEndpoint ? replaySocket() : null;
  }

  start(): void {
    this.sub.connect(this.source.endpoint);
    this.sub.subscribe(this.source.topic);
    this.replay?.connect(this.source.replayEndpoint!);
    void this.follow();
  }

  close(): void {
    this.closed = true;
    this.sub.close();
    this.replay?.close();
  }

  private async follow(): Promise<void> {
    try {
      await this.replayFrom(0);
      for await (const [, seqFrame, payload] of this.sub) {
        const seq = Number(seqFrame!.readBigInt64BE());
        if (seq <= this.last) {
          if (!this.newer(payload!)) continue;
          this.hooks.reset();
          this.last = -1;
          this.lastTs = -Infinity;
        }
        if (seq > this.last + 1) await this.replayFrom(this.last + 1);
        if (seq > this.last) this.apply(seq, payload!);
      }
    } catch (e) {
      if (!this.closed) this.hooks.problem(`KV events from ${this.source.endpoint} stopped: ${(e as Error).message}`);
    }
  }

  private newer(payload: Buffer): boolean {
    try {
      return decodeBatch(payload).ts > this.lastTs;
    } catch {
      return false;
    }
  }

  private apply(seq: number, payload: Buffer): void {
    this.last = seq;
    let batch: KVEventBatch;
    try {
      batch = decodeBatch(payload);
    } catch (e) {
      this.hooks.problem(`KV event batch ${seq} from ${this.source.endpoint} is unreadable: ${(e as Error).message}`);
      return;
    }
    this.lastTs = batch.ts;
    this.hooks.batch(batch);
  }

  /** Applies the kept batches from `from` on; without a replay socket, a gap stays a gap. */
  private async replayFrom(from: number): Promise<void> {
    if (!this.replay) return;
    await this.replay.send([Buffer.alloc(0), seqBytes(from)]);
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await this.replay.receive();
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') {
          this.hooks.problem(`the replay socket ${this.source.replayEndpoint} did not answer within ${REPLAY_TIMEOUT_MS} ms`);
          // A fresh socket, so a late answer to this request is not read as the next one's.
          this.replay.close();
          this.replay = replaySocket();
          this.replay.connect(this.source.replayEndpoint!);
          return;
        }
        throw e;
      }
      const [seqFrame, payload] = frames.slice(-2);
      const seq = Number(seqFrame!.readBigInt64BE());
      if (seq < 0) return;
      if (seq > this.last) this.apply(seq, payload!);
    }
  }
}
