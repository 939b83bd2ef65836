// Loads the Gloo collectives addon (native/comm/build/Release/tsllm_comm.node). It is built by
// `npm install` only where libgloo-dev is installed; without it every multi-process layout fails with
// one line saying what to install, and single-process runs never touch it.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/errors.js';

export interface ConnectOptions {
  rank: number;
  size: number;
  storeHost: string;
  storePort: number;
  /** The address this rank's Gloo device listens on (its peers connect to it). */
  bindHost: string;
  timeoutMs: number;
  /** This rank's identity (JSON), checked by the master's store before it may join. */
  hello: string;
  /** Keys of a subgroup's connect, apart from the world's and other subgroups' ('' for the world). */
  prefix?: string;
}

/** One rank's Gloo context. Collectives block the calling thread and throw on a dead peer or timeout. */
export interface NativeCommunicator {
  connect(opts: ConnectOptions): Promise<void>;
  /** Sums `x` across ranks, in place. */
  allReduce(x: Float32Array): void;
  /** `output` = every rank's `input`, in rank order (output.byteLength = size x input.byteLength). */
  allGather(input: ArrayBufferView, output: ArrayBufferView): void;
  /** Root's bytes into every rank's `x` (same length everywhere). */
  broadcast(x: ArrayBufferView, root: number): void;
  send(x: ArrayBufferView, dst: number, tag: number): void;
  recv(x: ArrayBufferView, src: number, tag: number): void;
  /** Posts a send and returns; `x` must stay unchanged until waitSends(). */
  isend(x: ArrayBufferView, dst: number, tag: number): void;
  /** Blocks until every posted isend but the `keep` newest has completed (oldest first). */
  waitSends(keep?: number): void;
  setTimeout(ms: number): void;
  /**
   * Maps shared segment `name` (rank 0 creates it), slots of `slotBytes` per rank for collectives and
   * a mailbox of `ringBytes` per ordered pair of ranks for point-to-point messages.
   */
  useSharedMemory(name: string, create: boolean, slotBytes: number, ringBytes: number): void;
  /**
   * From now on, collectives that fit a slot, and messages up to a quarter of a mailbox, go through
   * shared memory (on every rank at the same point).
   */
  activateSharedMemory(): void;
  /** Removes the segment's name (it stays mapped): once every rank has opened it. */
  unlinkSharedMemory(): void;
  /** The error that broke this communicator (a dead peer, a timeout), or null while it works. */
  failure(): string | null;
  close(): void;
}

const ADDON = fileURLToPath(new URL('../../../native/comm/build/Release/tsllm_comm.node', import.meta.url));

let loaded: { Communicator: new () => NativeCommunicator } | null = null;

export function createCommunicator(): NativeCommunicator {
  if (!loaded) {
    if (!existsSync(ADDON)) {
      throw new UsageError('tensor/pipeline parallelism needs Gloo: install it (apt install libgloo-dev) and run npm install again');
    }
    loaded = createRequire(import.meta.url)(ADDON) as { Communicator: new () => NativeCommunicator };
  }
  return new loaded.Communicator();
}
