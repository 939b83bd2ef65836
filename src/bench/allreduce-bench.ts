// What one all-reduce of a decode step's size costs through the Gloo addon: rank 0 (this process)
// serves the rendezvous and spawns the other ranks on this host (or waits for them at --master), then
// every rank sums the same buffers `iters` times; rank 0 times each call. Its median is the latency
// a tensor-parallel layer pays twice; size / median the bandwidth it sees.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ProcessGroup, splitHostPort } from '../distributed/process-group.js';
import { RendezvousStore } from '../distributed/rendezvous-store.js';
import { TSLLM_VERSION } from '../util/version.js';
import { median, percentile } from './stats.js';

export interface AllReduceBenchOptions {
  worldSize: number;
  /** Floats per all-reduce, one measurement each. */
  sizes: number[];
  iters: number;
  /** Where the ranks meet; absent = 127.0.0.1 with the other ranks spawned here. */
  master?: string;
  bindHost: string;
}

export interface AllReduceRow {
  floats: number;
  bytes: number;
  medianUs: number;
  p90Us: number;
  gbPerSecond: number;
}

const RANK_SCRIPT = fileURLToPath(new URL('./allreduce-rank.js', import.meta.url));
const BENCH_MODEL = 'allreduce-bench';

/** Every rank's loop: warm up, then `iters` timed all-reduces per size (the times matter on rank 0). */
export function allReduceLoop(group: ProcessGroup, sizes: number[], iters: number): number[][] {
  return sizes.map((n) => {
    const x = new Float32Array(n).fill(1);
    for (let i = 0; i < 10; i++) group.comm.allReduce(x);
    const times: number[] = [];
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now();
      group.comm.allReduce(x);
      times.push((performance.now() - t0) * 1000);
    }
    return times;
  });
}

export async function benchAllReduce(o: AllReduceBenchOptions): Promise<AllReduceRow[]> {
  const [host, port] = o.master ? splitHostPort(o.master) : ['127.0.0.1', 0];
  const store = await RendezvousStore.listen({ worldSize: o.worldSize, version: TSLLM_VERSION }, host, port);
  const master = `${host}:${store.port}`;
  const children = o.master ? [] : Array.from({ length: o.worldSize - 1 }, (_, i) =>
    spawn(process.execPath, [RANK_SCRIPT, JSON.stringify({ rank: i + 1, worldSize: o.worldSize, master, bindHost: o.bindHost, sizes: o.sizes, iters: o.iters })], { stdio: 'inherit' }));
  try {
    const group = await ProcessGroup.join({ rank: 0, worldSize: o.worldSize, master, bindHost: o.bindHost, timeoutMs: 60_000, model: BENCH_MODEL, version: TSLLM_VERSION });
    const times = allReduceLoop(group, o.sizes, o.iters);
    group.close();
    return o.sizes.map((floats, i) => {
      const t = times[i]!;
      const med = median(t);
      return { floats, bytes: floats * 4, medianUs: med, p90Us: percentile(t, 90), gbPerSecond: (floats * 4) / (med * 1e-6) / 1e9 };
    });
  } finally {
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    store.close();
  }
}

export { BENCH_MODEL };
