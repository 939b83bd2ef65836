// A follower rank's process: the follower runs in a worker thread; this main thread returns its exit
// code, and, for a rank the engine spawned itself, kills the process the moment the parent's pipe
// closes (the parent died), even while the follower is blocked inside a collective.

import { Worker } from 'node:worker_threads';
import type { EngineOptions } from '../engine-options.js';

export function runRankProcess(options: EngineOptions, rank: number, master: string, watchParent: boolean): Promise<number> {
  if (watchParent) {
    process.stdin.on('close', () => process.kill(process.pid, 'SIGKILL'));
    process.stdin.resume();
  }
  const worker = new Worker(new URL('./follower-thread.js', import.meta.url), { workerData: { options, rank, master, quiet: watchParent } });
  return new Promise((resolve) => {
    worker.on('error', (e) => {
      console.error(`tsllm worker rank ${rank}: ${e.message}`);
      resolve(1);
    });
    worker.on('exit', (code) => resolve(code));
  });
}
