// The front of `tsllm serve --data-parallel-size N`: listens at once, starts the N replicas, and
// routes by live load (requests in flight, then KV usage) over them; healthy once every replica is.
// Its /metrics carries the replicas' engine metrics, labelled engine="0".."N-1".

import { physicalCores } from '../kernels/create-backend.js';
import { replicaArgs, startReplica, type Replica } from '../router/data-parallel-replicas.js';
import { createRouter } from '../router/router-server.js';
import { UsageError } from '../util/errors.js';
import { expandParallelShorthands } from './parallel-flags.js';
import { stopOnSignals } from './router-command.js';

export interface DataParallelFlags {
  dataParallelSize: number;
  host: string;
  port: number;
  threads?: number;
  apiKey?: string;
  logLevel: string;
  distributedMaster?: string;
}

export async function serveDataParallel(f: DataParallelFlags): Promise<void> {
  if (f.distributedMaster) throw new UsageError('--data-parallel-size runs its replicas on this host; it does not combine with --distributed-master');
  const n = f.dataParallelSize;
  const apiKey = f.apiKey ?? process.env['TSLLM_API_KEY'];
  const router = createRouter({
    workers: [], policy: 'least-load', healthIntervalMs: 1000, failureThreshold: 1, requiredWorkers: n, mergeWorkerMetrics: true,
    ...(apiKey ? { apiKey } : {}), logger: { level: f.logLevel },
  });
  await router.app.listen({ host: f.host, port: f.port });
  const log = router.app.log;
  const argv = expandParallelShorthands(process.argv);
  const args = replicaArgs(argv.slice(argv.indexOf('serve') + 1), f.threads ? null : Math.max(1, Math.floor(physicalCores() / n)));
  const replicas: Replica[] = [];
  let stopping = false;
  const stopReplicas = async () => {
    stopping = true;
    for (const r of replicas) r.child.kill('SIGTERM');
    await Promise.all(replicas.map((r) => r.exited));
  };
  stopOnSignals(router, stopReplicas);
  try {
    for (let rank = 0; rank < n; rank++) {
      const r = await startReplica(process.argv[1]!, rank, args);
      replicas.push(r);
      void r.exited.then((code) => {
        if (stopping) return;
        log.fatal({ rank, code }, 'a data-parallel replica exited: stopping the others and exiting');
        void router.close().then(stopReplicas).finally(() => process.exit(1));
      });
      router.pool.add(r.url);
    }
  } catch (e) {
    await router.close();
    await stopReplicas();
    throw e;
  }
  log.info({ replicas: replicas.map((r) => r.url), threadsEach: args[args.indexOf('--threads') + 1] ?? f.threads }, `data parallel: ${n} engine processes`);
}
