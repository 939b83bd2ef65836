// `tsllm serve --data-parallel-size N`: N engine processes, each a full `tsllm serve` with its own KV
// cache and threads on a loopback port, started here and balanced by the router in this process. A
// replica that dies takes the job down (as a failed tensor-parallel rank does), so a supervisor
// restarts the whole; the replicas exit when this process goes away.

import { fork, type ChildProcess } from 'node:child_process';

/** Set in a replica's environment to its index; such a serve reports its port over IPC. */
export const DP_RANK_ENV = 'TSLLM_DATA_PARALLEL_RANK';

export interface Replica {
  rank: number;
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

/** Flags (with their values) the front keeps for itself. */
const FRONT_FLAGS = new Set(['--data-parallel-size', '--port', '--host']);

/** `serve` arguments for a replica: the front's own, less its listening address and DP size, on an ephemeral loopback port. */
export function replicaArgs(serveArgs: readonly string[], threads: number | null): string[] {
  const out: string[] = [];
  for (let i = 0; i < serveArgs.length; i++) {
    const a = serveArgs[i]!;
    const name = a.split('=')[0]!;
    if (FRONT_FLAGS.has(name)) {
      if (!a.includes('=')) i++;
      continue;
    }
    out.push(a);
  }
  if (threads !== null && !out.some((a) => a === '--threads' || a.startsWith('--threads='))) out.push('--threads', String(threads));
  return ['serve', ...out, '--host', '127.0.0.1', '--port', '0'];
}

/** Starts one replica and resolves once it listens (its model may still be loading). */
export function startReplica(cli: string, rank: number, args: readonly string[]): Promise<Replica> {
  const child = fork(cli, args, { env: { ...process.env, [DP_RANK_ENV]: String(rank) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.on('message', (m: { listening?: number }) => {
      if (typeof m?.listening === 'number') resolve({ rank, child, url: `http://127.0.0.1:${m.listening}`, exited });
    });
    void exited.then((code) => reject(new Error(`data-parallel replica ${rank} exited (code ${code}) before it listened`)));
  });
}

/** Inside a replica: tells the front its port, and exits when the front goes away. */
export function reportToFront(port: number): void {
  if (process.env[DP_RANK_ENV] === undefined || !process.send) return;
  process.send({ listening: port });
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
