// Rank 0's messages to the other ranks: a two-word header (kind, length), then its payload. Without
// pipeline stages they are Gloo broadcasts (shared memory on one host). With stages they are posted
// sends from rank 0 to each rank (shared-memory mailboxes on one host), so rank 0 never waits for a
// stage still busy with an earlier pass: that is what lets several passes be in flight. Rank 0 sends
// a heartbeat when it has been idle for a while, so that a follower waiting for the next step tells a
// quiet master from a dead or hung one within the communicator's timeout, and rank 0 learns of a dead
// follower before a request needs it.

import type { NativeCommunicator } from '../../distributed/comm-addon.js';
import type { PostedSends } from './posted-sends.js';

export const PlanKind = { setup: 1, step: 2, heartbeat: 3, shutdown: 4 } as const;
export type PlanKind = (typeof PlanKind)[keyof typeof PlanKind];

export interface PlanMessage {
  kind: PlanKind;
  payload: Int32Array;
}

/** Point-to-point tags of a plan's two parts (stage-pipeline.ts uses others). */
export const PLAN_TAGS = { header: 1, payload: 2 } as const;

export class PlanChannel {
  private readonly header = new Int32Array(2);

  /** `sends` and `worldSize`: send point to point (pipeline stages) instead of broadcasting. */
  constructor(
    private readonly comm: NativeCommunicator,
    private readonly p2p: { sends: PostedSends; worldSize: number } | null = null,
  ) {}

  /** Rank 0: every other rank receives this message. */
  send(kind: PlanKind, payload: Int32Array = new Int32Array(0)): void {
    if (this.p2p) {
      // Each send keeps its own header until it completes.
      const header = Int32Array.of(kind, payload.length);
      for (let r = 1; r < this.p2p.worldSize; r++) {
        this.p2p.sends.post(header, r, PLAN_TAGS.header);
        if (payload.length > 0) this.p2p.sends.post(payload, r, PLAN_TAGS.payload);
      }
      return;
    }
    this.header.set([kind, payload.length]);
    this.comm.broadcast(this.header, 0);
    if (payload.length > 0) this.comm.broadcast(payload, 0);
  }

  /** Every rank, after shutdown: returns once all have it, so no rank closes while bytes are in flight. */
  farewell(): void {
    this.p2p?.sends.waitUntil();
    this.comm.allReduce(new Float32Array(1));
  }

  /** The other ranks: blocks until rank 0's next message (throws on a dead master or the timeout). */
  receive(): PlanMessage {
    const get = (x: Int32Array, tag: number) => (this.p2p ? this.comm.recv(x, 0, tag) : this.comm.broadcast(x, 0));
    get(this.header, PLAN_TAGS.header);
    const payload = new Int32Array(this.header[1]!);
    if (payload.length > 0) get(payload, PLAN_TAGS.payload);
    return { kind: this.header[0] as PlanKind, payload };
  }
}

export function jsonPayload(value: unknown): Int32Array {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const words = new Int32Array(Math.ceil(bytes.length / 4) + 1);
  words[0] = bytes.length;
  new Uint8Array(words.buffer, 4).set(bytes);
  return words;
}

export function fromJsonPayload<T>(words: Int32Array): T {
  return JSON.parse(new TextDecoder().decode(new Uint8Array(words.buffer, words.byteOffset + 4, words[0]!))) as T;
}
