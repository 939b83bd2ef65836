// `tsllm worker`: one rank of a job whose rank 0 (`tsllm serve ... --distributed-master HOST:PORT`)
// runs on another host. It loads the same model with the same flags, joins through the master's
// rendezvous store (refused there if its world size, rank, model or version differ), and runs the
// batches rank 0 broadcasts until rank 0 shuts down; it exits non-zero if the job fails.

import { Command } from 'commander';
import { LOAD_FORMATS, type LoadFormat } from '../model/load-model.js';
import { addBackendOptions, modelOptions, type BackendFlags } from './backend-options.js';
import { parseFloatArg, parseIntArg, runCommand } from './run-command.js';
import { runRankProcess } from '../engine/parallel/rank-process.js';
import { parallelFromFlags, type ParallelFlags } from './parallel-flags.js';
import { UsageError } from '../util/errors.js';
import { DEFAULT_DISTRIBUTED_TIMEOUT_MS } from '../engine/parallel/parallel-options.js';

interface WorkerFlags extends BackendFlags, ParallelFlags {
  model: string;
  loadFormat: LoadFormat;
  rank: number;
  worldSize: number;
  master: string;
}

export function workerCommand(): Command {
  return addBackendOptions(new Command('worker'))
    .description('join a tensor/pipeline-parallel job as rank R (rank 0 is `tsllm serve --distributed-master HOST:PORT`)')
    .requiredOption('-m, --model <model>', 'the same model as rank 0\'s (the same file, format and quantization)')
    .option('--load-format <format>', `how to read --model: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .requiredOption('--rank <r>', 'this rank, 1..world size - 1', parseIntArg('--rank'))
    .requiredOption('--world-size <n>', 'ranks in the job (the master\'s tensor x pipeline parallel sizes)', parseIntArg('--world-size'))
    .option('--tensor-parallel-size <n>', 'as rank 0 was started (default: world size / pipeline-parallel size)', parseIntArg('--tensor-parallel-size'))
    .option('--pipeline-parallel-size <n>', 'as rank 0 was started (default 1)', parseIntArg('--pipeline-parallel-size'))
    .requiredOption('--master <host:port>', 'rank 0\'s --distributed-master address')
    .option('--enable-expert-parallel', 'as rank 0 was started')
    .option('--distributed-bind-host <addr>', 'address this rank\'s collectives listen on, reachable from the other ranks (default 0.0.0.0)')
    .option('--distributed-timeout <seconds>', `as rank 0's (default ${DEFAULT_DISTRIBUTED_TIMEOUT_MS / 1000})`, parseFloatArg('--distributed-timeout'))
    .action((f: WorkerFlags) => runCommand(async () => {
      if (f.rank < 1 || f.rank >= f.worldSize) throw new UsageError(`--rank must be in 1..${f.worldSize - 1} (rank 0 is the master)`);
      const pp = f.pipelineParallelSize ?? 1;
      const tp = f.tensorParallelSize ?? f.worldSize / pp;
      if (!Number.isInteger(tp) || tp * pp !== f.worldSize) {
        throw new UsageError(`--world-size ${f.worldSize} must equal --tensor-parallel-size x --pipeline-parallel-size (${f.tensorParallelSize ?? '?'} x ${pp})`);
      }
      const options = {
        ...modelOptions(f),
        ...parallelFromFlags({ ...f, tensorParallelSize: tp, pipelineParallelSize: pp, distributedMaster: f.master, distributedBindHost: f.distributedBindHost ?? '0.0.0.0' }),
      };
      const code = await runRankProcess(options, f.rank, f.master, false);
      if (code !== 0) process.exit(code);
    }));
}
