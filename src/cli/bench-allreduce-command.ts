// tsllm bench allreduce: the Gloo all-reduce at the sizes a tensor-parallel decode step sums.

import { Command } from 'commander';
import { benchAllReduce } from '../bench/allreduce-bench.js';
import { parseIntArg, runCommand } from './run-command.js';
import { printTable } from './table.js';
import { UsageError } from '../util/errors.js';

interface Flags {
  worldSize: number;
  sizes: string;
  iters: number;
  master?: string;
  bindHost: string;
  json?: boolean;
}

export function benchAllReduceCommand(): Command {
  return new Command('allreduce')
    .description('latency and bandwidth of one all-reduce between ranks (Gloo, TCP), at decode-step sizes')
    .option('--world-size <n>', 'ranks (spawned on this host unless --master)', parseIntArg('--world-size'), 2)
    .option('--sizes <floats,...>', 'floats per all-reduce (hidden x batch)', '2048,8192,32768,131072')
    .option('--iters <n>', 'timed all-reduces per size', parseIntArg('--iters'), 500)
    .option('--master <host:port>', 'serve the meeting point here and wait for ranks started elsewhere')
    .option('--bind-host <addr>', 'address this rank listens on', '127.0.0.1')
    .option('--json', 'print rows as JSON')
    .action((f: Flags) => runCommand(async () => {
      const sizes = f.sizes.split(',').map(Number);
      if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--sizes: positive integers, got "${f.sizes}"`);
      const rows = await benchAllReduce({ worldSize: f.worldSize, sizes, iters: f.iters, bindHost: f.bindHost, ...(f.master ? { master: f.master } : {}) });
      if (f.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else printTable(['floats', 'bytes', 'median us', 'p90 us', 'GB/s'], rows.map((r) => [String(r.floats), String(r.bytes), r.medianUs.toFixed(1), r.p90Us.toFixed(1), r.gbPerSecond.toFixed(2)]));
    }));
}
