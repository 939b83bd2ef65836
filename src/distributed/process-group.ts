// One rank's membership of a multi-process job: its rank, the world size and the Gloo communicator,
// joined through the master's rendezvous store. Rank 0 is the master: it serves the store (in its
// main thread) and joins through it like every other rank.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
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
  /** How the world is split, checked by the master like the model. */
  layout?: string;
  /**
   * A subgroup of the world (one pipeline stage's tensor-parallel ranks): its name, and this rank's
   * place in it. `rank` and `worldSize` stay the world's, by which the master admits the rank.
   */
  group?: { name: string; rank: number; size: number };
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
    const hello: RankHello = { rank: o.rank, worldSize: o.worldSize, model: o.model, version: o.version, ...(o.layout ? { layout: o.layout } : {}), ...(o.group ? { group: o.group.name } : {}) };
    const [rank, size] = o.group ? [o.group.rank, o.group.size] : [o.rank, o.worldSize];
    await comm.connect({
      rank, size, storeHost: host, storePort: port, bindHost: o.bindHost, timeoutMs: o.timeoutMs, hello: JSON.stringify(hello), prefix: o.group?.name ?? '',
    });
    if (process.env['TSLLM_DISTRIBUTED_SHM'] !== '0' && sameHost(comm, size, o.bindHost)) shareMemory(comm, rank);
    return new ProcessGroup(rank, size, comm);
  }

  close(): void {
    this.comm.close();
  }
}

/** Floats up to this size (per rank) go through shared memory on one host; larger ones through Gloo. */
const SHM_SLOT_BYTES = 4 << 20;
/**
 * Each ordered pair's point-to-point mailbox; messages up to a quarter of it (a pass's activations or
 * logits of a few rows: TinyLlama's logits for 8 rows are 1 MB) go through it, larger ones through Gloo.
 */
const SHM_RING_BYTES = 8 << 20;

// Ranks on one host bound to one address (loopback, typically) share a memory segment; ranks that
// bind different addresses (other hosts, or network namespaces standing in for them) do not.
function sameHost(comm: NativeCommunicator, size: number, bindHost: string): boolean {
  const id = new Uint8Array(256);
  id.set(new TextEncoder().encode(`${os.hostname()}|${bootId()}|${bindHost}`.slice(0, 256)));
  const all = new Uint8Array(256 * size);
  comm.allGather(id, all);
  return Array.from({ length: size }, (_, r) => all.subarray(r * 256, (r + 1) * 256)).every((x) => Buffer.compare(x, id) === 0);
}

function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

function shareMemory(comm: NativeCommunicator, rank: number): void {
  // Gloo carries the name and the two barriers: created, then opened everywhere (the name can go).
  const name = new Uint8Array(64);
  if (rank === 0) name.set(new TextEncoder().encode(`/tsllm-${process.pid}-${randomBytes(6).toString('hex')}`));
  comm.broadcast(name, 0);
  const segment = new TextDecoder().decode(name).replace(/\0+$/, '');
  if (rank === 0) comm.useSharedMemory(segment, true, SHM_SLOT_BYTES, SHM_RING_BYTES);
  comm.allReduce(new Float32Array(1));
  if (rank !== 0) comm.useSharedMemory(segment, false, SHM_SLOT_BYTES, SHM_RING_BYTES);
  comm.allReduce(new Float32Array(1));
  if (rank === 0) comm.unlinkSharedMemory();
  comm.activateSharedMemory();
}

export function splitHostPort(spec: string): [string, number] {
  const at = spec.lastIndexOf(':');
  const port = Number(spec.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`expected HOST:PORT, got "${spec}"`);
  return [spec.slice(0, at).replace(/^\[|\]$/g, ''), port];
}
