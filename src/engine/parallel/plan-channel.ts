// Rank 0's messages to the other ranks, each a Gloo broadcast of a two-word header (kind, length)
// and then its payload. Rank 0 broadcasts a heartbeat when it has been idle for a while, so that a
// follower waiting for the next step tells a quiet master from a dead or hung one within the
// communicator's timeout, and rank 0 learns of a dead follower before a request needs it.

import type { NativeCommunicator } from '../../distributed/comm-addon.js';

export const PlanKind = { setup: 1, step: 2, heartbeat: 3, shutdown: 4 } as const;
export type PlanKind = (typeof PlanKind)[keyof typeof PlanKind];

export interface PlanMessage {
  kind: PlanKind;
  payload: Int32Array;
}

export class PlanChannel {
  private readonly header = new Int32Array(2);

  constructor(private readonly comm: NativeCommunicator) {}

  /** Rank 0: every other rank receives this message. */
  send(kind: PlanKind, payload: Int32Array = new Int32Array(0)): void {
    this.header.set([kind, payload.length]);
    this.comm.broadcast(this.header, 0);
    if (payload.length > 0) this.comm.broadcast(payload, 0);
  }

  /** Every rank, after shutdown: returns once all have it, so no rank closes while bytes are in flight. */
  farewell(): void {
    this.comm.allReduce(new Float32Array(1));
  }

  /** The other ranks: blocks until rank 0's next message (throws on a dead master or the timeout). */
  receive(): PlanMessage {
    this.comm.broadcast(this.header, 0);
    const payload = new Int32Array(this.header[1]!);
    if (payload.length > 0) this.comm.broadcast(payload, 0);
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
