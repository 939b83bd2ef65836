// One rank's membership of a multi-process job: its rank, the world size and the Gloo communicator,
// joined through the master's rendezvous store. Rank 0 is the master: it serves the store (in its
// main thread) and joins through it like every other rank.

import { createCommunicator, type NativeCommunicator } from './comm-addon.js';
import type { RankHello } from './rendezvous-store.js';

export interface JoinOptions {
  rank: number;
  worldSize: number;
  /** The master's rendezvous store, host:port. */
  master: string;
  /** The address this rank listens on for its peers (loopback for one host). */
  bindHost: string;
  /** How long any collective, or the join itself, may wait for a peer before failing. */
  timeoutMs: number;
  /** Fingerprint of the model this rank loaded, and the tsllm version: the master checks both. */
  model: string;
  version: string;
}

export class ProcessGroup {
  private constructor(
    readonly rank: number,
    readonly size: number,
    readonly comm: NativeCommunicator,
  ) {}

  static async join(o: JoinOptions): Promise<ProcessGroup> {
    const [host, port] = splitHostPort(o.master);
    const comm = createCommunicator();
    const hello: RankHello = { rank: o.rank, worldSize: o.worldSize, model: o.model, version: o.version };
    await comm.connect({
      rank: o.rank, size: o.worldSize, storeHost: host, storePort: port, bindHost: o.bindHost, timeoutMs: o.timeoutMs, hello: JSON.stringify(hello),
    });
    return new ProcessGroup(o.rank, o.worldSize, comm);
  }

  close(): void {
    this.comm.close();
  }
}

export function splitHostPort(spec: string): [string, number] {
  const at = spec.lastIndexOf(':');
  const port = Number(spec.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`expected HOST:PORT, got "${spec}"`);
  return [spec.slice(0, at).replace(/^\[|\]$/g, ''), port];
}
