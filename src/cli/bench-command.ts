// tsllm bench: performance measurements.

import { benchSpecDecodeCommand } from './bench-spec-decode-command.js';
import { benchKVCacheCommand } from './bench-kv-cache-command.js';
import { Command } from 'commander';
import { benchLatencyCommand } from './bench-latency-command.js';
import { benchKernelsCommand } from './bench-kernels-command.js';
import { benchThroughputCommand } from './bench-throughput-command.js';
import { benchServeCommand } from './bench-serve-command.js';
import { benchSweepCommand } from './bench-sweep-command.js';
import { benchExperimentsCommand } from './bench-experiments-command.js';
import { benchGrammarCommand } from './bench-grammar-command.js';
import { benchAllReduceCommand } from './bench-allreduce-command.js';

export function benchCommand(): Command {
  return new Command('bench').description('measure performance').addCommand(benchLatencyCommand()).addCommand(benchThroughputCommand()).addCommand(benchServeCommand()).addCommand(benchSweepCommand()).addCommand(benchExperimentsCommand()).addCommand(benchKernelsCommand()).addCommand(benchKVCacheCommand()).addCommand(benchSpecDecodeCommand()).addCommand(benchGrammarCommand()).addCommand(benchAllReduceCommand());
}
