// How one model is spread over processes: vLLM's flags, and where the ranks meet.

import { UsageError } from '../../util/errors.js';

export interface ParallelOptionsInput {
  /** Ranks that split each layer (Megatron tensor parallelism). */
  tensorParallelSize?: number;
  /** Processes that each hold a run of consecutive layers (pipeline stages). */
  pipelineParallelSize?: number;
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
  pipelineParallelSize: number;
  /** tensorParallelSize x pipelineParallelSize processes. */
  worldSize: number;
  enableExpertParallel: boolean;
  master: string | null;
  bindHost: string;
  timeoutMs: number;
}

export const DEFAULT_DISTRIBUTED_TIMEOUT_MS = 30_000;

export function resolveParallelOptions(o: ParallelOptionsInput): ParallelOptions {
  const tp = o.tensorParallelSize ?? 1;
  const pp = o.pipelineParallelSize ?? 1;
  if (!Number.isInteger(tp) || tp < 1 || tp > 64) throw new UsageError(`--tensor-parallel-size must be an integer in 1..64, got ${tp}`);
  if (!Number.isInteger(pp) || pp < 1 || pp > 64) throw new UsageError(`--pipeline-parallel-size must be an integer in 1..64, got ${pp}`);
  const timeoutMs = o.distributedTimeoutMs ?? DEFAULT_DISTRIBUTED_TIMEOUT_MS;
  if (!(timeoutMs >= 100)) throw new UsageError(`--distributed-timeout must be at least 0.1 s, got ${timeoutMs / 1000} s`);
  if (o.enableExpertParallel && tp === 1) throw new UsageError('--enable-expert-parallel needs --tensor-parallel-size > 1 (experts are split over the tensor-parallel ranks)');
  return {
    tensorParallelSize: tp,
    pipelineParallelSize: pp,
    worldSize: tp * pp,
    enableExpertParallel: o.enableExpertParallel ?? false,
    master: o.distributedMaster ?? null,
    bindHost: o.distributedBindHost ?? (o.distributedMaster ? '0.0.0.0' : '127.0.0.1'),
    timeoutMs,
  };
}

/** The split every rank must agree on, as the master's store compares it. */
export function parallelLayout(p: ParallelOptions): string {
  return `tensor-parallel ${p.tensorParallelSize} x pipeline-parallel ${p.pipelineParallelSize}${p.enableExpertParallel ? ' with expert parallelism' : ''}`;
}

/** Ranks wait this long for the whole world to load and meet, beyond the collectives' timeout. */
export function joinTimeoutMs(p: ParallelOptions): number {
  return Math.max(p.timeoutMs, 600_000);
}
