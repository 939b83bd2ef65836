// Rank 0's side of a multi-process job, in the main thread: the rendezvous store the ranks meet at,
// and on one host the follower ranks themselves, spawned as child processes. Closing it stops the
// children it spawned (a child also dies on its own when this process does: its stdin pipe closes).

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RendezvousStore } from '../../distributed/rendezvous-store.js';
import { splitHostPort } from '../../distributed/process-group.js';
import { TSLLM_VERSION } from '../../util/version.js';
import type { EngineOptions } from '../engine-options.js';
import { parallelLayout, type ParallelOptions } from './parallel-options.js';

const RANK_MAIN = fileURLToPath(new URL('./rank-main.js', import.meta.url));

export class LocalWorld {
  private constructor(
    private readonly store: RendezvousStore,
    readonly master: string,
    readonly children: ChildProcess[],
  ) {}

  /** With p.master, listens there and waits for `tsllm worker` ranks; without, spawns them on this host. */
  static async start(options: EngineOptions, p: ParallelOptions): Promise<LocalWorld> {
    const [host, port] = p.master ? splitHostPort(p.master) : ['127.0.0.1', 0];
    const store = await RendezvousStore.listen({ worldSize: p.worldSize, version: TSLLM_VERSION, layout: parallelLayout(p) }, host, port);
    const master = `${host}:${store.port}`;
    const children: ChildProcess[] = [];
    if (!p.master) {
      for (let rank = 1; rank < p.worldSize; rank++) {
        const arg = JSON.stringify({ options: { ...options, distributedMaster: undefined }, rank, master });
        children.push(spawn(process.execPath, [RANK_MAIN, arg], { stdio: ['pipe', 'ignore', 'inherit'] }));
      }
    }
    return new LocalWorld(store, master, children);
  }

  /** Pids of the ranks this process spawned. */
  get pids(): number[] {
    return this.children.map((c) => c.pid!).filter((pid) => pid !== undefined);
  }

  async close(): Promise<void> {
    this.store.close();
    await Promise.all(this.children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const kill = setTimeout(() => c.kill('SIGKILL'), 3000);
      c.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      c.stdin?.end();
      c.kill('SIGTERM');
    })));
  }
}
