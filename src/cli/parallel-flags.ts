// The flags that spread one model over processes, in vLLM's spelling (-tp/-pp/-dp are rewritten to the
// long forms before parsing: commander's short flags are one letter).

import type { Command } from 'commander';
import type { ParallelOptionsInput } from '../engine/parallel/parallel-options.js';
import { DEFAULT_DISTRIBUTED_TIMEOUT_MS } from '../engine/parallel/parallel-options.js';
import { parseFloatArg, parseIntArg } from './run-command.js';

export interface ParallelFlags {
  tensorParallelSize?: number;
  pipelineParallelSize?: number;
  enableExpertParallel?: boolean;
  distributedMaster?: string;
  distributedBindHost?: string;
  distributedTimeout?: number;
}

export function addParallelOptions(cmd: Command): Command {
  return cmd
    .option('--tensor-parallel-size <n>', 'split each layer over n processes (-tp n); on one host they are started for you', parseIntArg('--tensor-parallel-size'))
    .option('--pipeline-parallel-size <n>', 'split the layers into n stages, one process each (-pp n); with -tp, n x tp processes', parseIntArg('--pipeline-parallel-size'))
    .option('--enable-expert-parallel', 'MoE: each tensor-parallel rank holds numExperts/n whole experts instead of a slice of every expert')
    .option('--distributed-master <host:port>', 'serve the ranks\' meeting point here and wait for `tsllm worker` ranks (other hosts) instead of starting them')
    .option('--distributed-bind-host <addr>', 'address this rank\'s collectives listen on (default 127.0.0.1, or 0.0.0.0 with --distributed-master)')
    .option('--distributed-timeout <seconds>', `how long a collective waits for a rank before the job is declared failed (default ${DEFAULT_DISTRIBUTED_TIMEOUT_MS / 1000})`, parseFloatArg('--distributed-timeout'));
}

export function parallelFromFlags(f: ParallelFlags): ParallelOptionsInput {
  const all: ParallelOptionsInput = {
    tensorParallelSize: f.tensorParallelSize,
    pipelineParallelSize: f.pipelineParallelSize,
    enableExpertParallel: f.enableExpertParallel,
    distributedMaster: f.distributedMaster,
    distributedBindHost: f.distributedBindHost,
    distributedTimeoutMs: f.distributedTimeout === undefined ? undefined : f.distributedTimeout * 1000,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as ParallelOptionsInput;
}

/** vLLM's -tp N and -pp N, as the long flags commander knows. */
export function expandParallelShorthands(argv: readonly string[]): string[] {
  const long: Record<string, string> = { '-tp': '--tensor-parallel-size', '-pp': '--pipeline-parallel-size', '-dp': '--data-parallel-size' };
  return argv.map((a) => long[a] ?? a);
}
