// The thread a follower rank runs in: its collectives block this thread, so the process's main
// thread stays free to notice that its parent went away.

import { workerData } from 'node:worker_threads';
import type { EngineOptions } from '../engine-options.js';
import { runFollower } from './follower.js';

const { options, rank, master, quiet } = workerData as { options: EngineOptions; rank: number; master: string; quiet: boolean };
try {
  await runFollower(options, rank, master, (line) => quiet || console.error(line));
} catch (e) {
  console.error(`tsllm worker rank ${rank}: ${(e as Error).message}`);
  process.exitCode = 1;
}
