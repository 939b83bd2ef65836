// Publishes the prefix cache's changes after each engine step, as vLLM does: a ZeroMQ PUB socket sends
// [topic, seq (8 bytes, big-endian), msgpack batch]; a subscriber that sees a gap in seq (or joins
// late) asks the replay socket (ROUTER) for everything from a seq on and gets [seq, batch] frames
// ending with [-1, empty]. The last `bufferSteps` batches are kept for that.

import { Publisher, Router } from 'zeromq';
import type { KVEventLog } from '../kv-cache/kv-event-log.js';
import { SerialSender } from '../kv-transfer/serial-sender.js';
import type { KVEventsConfig } from './kv-events-config.js';
import { encodeBatch } from './kv-event-wire.js';

const seqBytes = (seq: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(seq));
  return b;
};

export class KVEventPublisher {
  private readonly pub = new Publisher({ linger: 0, sendHighWaterMark: 100_000 });
  private readonly pubSender = new SerialSender(this.pub);
  private readonly replay: Router | null;
  private readonly replaySender: SerialSender | null;
  private readonly kept: { seq: number; payload: Uint8Array }[] = [];
  private seq = 0;
  /** The endpoints as bound (a port 0 resolved). */
  endpoint = '';
  replayEndpoint: string | null = null;

  private constructor(private readonly config: KVEventsConfig, private readonly log: KVEventLog, private readonly dataParallelRank: number | null) {
    this.replay = config.replayEndpoint ? new Router({ linger: 0 }) : null;
    this.replaySender = this.replay ? new SerialSender(this.replay) : null;
  }

  static async create(config: KVEventsConfig, log: KVEventLog, dataParallelRank: number | null): Promise<KVEventPublisher> {
    const p = new KVEventPublisher(config, log, dataParallelRank);
    try {
      await p.pub.bind(config.endpoint);
      p.endpoint = p.pub.lastEndpoint ?? config.endpoint;
      if (p.replay) {
        await p.replay.bind(config.replayEndpoint!);
        p.replayEndpoint = p.replay.lastEndpoint ?? config.replayEndpoint;
        void p.serveReplays();
      }
    } catch (e) {
      p.close();
      throw new Error(`KV events: cannot bind ${config.endpoint}${config.replayEndpoint ? ` / ${config.replayEndpoint}` : ''}: ${(e as Error).message}`);
    }
    return p;
  }

  /** Sends what the log holds as one batch (nothing when it holds nothing). */
  flush(): void {
    if (this.log.pending === 0) return;
    const payload = encodeBatch({ ts: Date.now() / 1000, events: this.log.drain(), dataParallelRank: this.dataParallelRank });
    const seq = this.seq++;
    this.kept.push({ seq, payload });
    if (this.kept.length > this.config.bufferSteps) this.kept.shift();
    void this.pubSender.send([this.config.topic, seqBytes(seq), payload]);
  }

  close(): void {
    this.pub.close();
    this.replay?.close();
  }

  private async serveReplays(): Promise<void> {
    try {
      for await (const frames of this.replay!) {
        // A REQ peer puts an empty delimiter before its request; a DEALER peer may not.
        const [peer, ...rest] = frames;
        const ask = rest.at(-1);
        const envelope = rest.length > 1 ? [peer!, Buffer.alloc(0)] : [peer!];
        const from = ask && ask.length === 8 ? Number(ask.readBigInt64BE()) : 0;
        for (const k of this.kept) if (k.seq >= from) void this.replaySender!.send([...envelope, seqBytes(k.seq), k.payload]);
        void this.replaySender!.send([...envelope, seqBytes(-1), Buffer.alloc(0)]);
      }
    } catch {
      // Closed.
    }
  }
}
