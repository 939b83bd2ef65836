// How one model is spread over processes: vLLM's flags, and where the ranks meet.

import { UsageError } from '../../util/errors.js';

export interface ParallelOptionsInput {
  /** Ranks that split each layer (Megatron tensor parallelism). */
  tensorParallelSize?: number;
  /** MoE experts whole on one rank each instead of split over all. */
  enableExpertParallel?: boolean;
  /** The master's rendezvous store, HOST:PORT: given, ranks 1.. are started by hand (`tsllm worker`); absent, on this host by the engine. */
  distributedMaster?: string;
  /** The address this rank's collectives listen on (default 127.0.0.1 on one host, 0.0.0.0 with a master address). */
  distributedBindHost?: string;
  /** How long a collective may wait for a rank before the job is declared failed (ms, default 30000). */
  distributedTimeoutMs?: number;
}

export interface ParallelOptions {
  tensorParallelSize: number;
  enableExpertParallel: boolean;
  master: string | null;
  bindHost: string;
  timeoutMs: number;
}

export const DEFAULT_DISTRIBUTED_TIMEOUT_MS = 30_000;

export function resolveParallelOptions(o: ParallelOptionsInput): ParallelOptions {
  const tp = o.tensorParallelSize ?? 1;
  if (!Number.isInteger(tp) || tp < 1 || tp > 64) throw new UsageError(`--tensor-parallel-size must be an integer in 1..64, got ${tp}`);
  const timeoutMs = o.distributedTimeoutMs ?? DEFAULT_DISTRIBUTED_TIMEOUT_MS;
  if (!(timeoutMs >= 100)) throw new UsageError(`--distributed-timeout must be at least 0.1 s, got ${timeoutMs / 1000} s`);
  if (o.enableExpertParallel && tp === 1) throw new UsageError('--enable-expert-parallel needs --tensor-parallel-size > 1 (experts are split over the tensor-parallel ranks)');
  return {
    tensorParallelSize: tp,
    enableExpertParallel: o.enableExpertParallel ?? false,
    master: o.distributedMaster ?? null,
    bindHost: o.distributedBindHost ?? (o.distributedMaster ? '0.0.0.0' : '127.0.0.1'),
    timeoutMs,
  };
}

/** Ranks wait this long for the whole world to load and meet, beyond the collectives' timeout. */
export function joinTimeoutMs(p: ParallelOptions): number {
  return Math.max(p.timeoutMs, 600_000);
}
