// tsllm bench kernels (npm run bench:kernels): GB/s and GFLOP/s of the native matmul per weight format.

import { Command } from 'commander';
import { benchKernels, readBandwidth } from '../bench/kernel-bench.js';
import { NativeBackend } from '../kernels/native/native-backend.js';
import { loadNativeAddon } from '../kernels/native/native-addon.js';
import { forcedIsa, physicalCores } from '../kernels/create-backend.js';
import { UsageError } from '../util/errors.js';
import { parseIntArg, runCommand } from './run-command.js';

export function benchKernelsCommand(): Command {
  return new Command('kernels')
    .description('matrix-vector GB/s and matrix-matrix GFLOP/s of the native kernels, per weight format')
    .option('--threads <n>', 'threads (default: physical cores)', parseIntArg('--threads'))
    .option('--portable', 'the portable kernels instead of the fastest build (TSLLM_ISA picks any build)')
    .option('--json', 'print the results as JSON')
    .action((f: { threads?: number; portable?: boolean; json?: boolean }) => runCommand(() => {
      const load = loadNativeAddon();
      if (!load.ok) throw new UsageError(`the native kernels are ${load.reason}`);
      const be = new NativeBackend(load.addon, { threads: f.threads ?? physicalCores(), isa: f.portable ? 'generic' : forcedIsa(load.addon) ?? load.addon.cpuIsa() });
      const read = readBandwidth(be);
      if (!f.json) process.stdout.write(`${be.name}, ${be.threads} threads; read bandwidth ${read.toFixed(1)} GB/s (512 MB streamed)\nformat  matvec GB/s (512 MB, 1 token)  matmul GFLOP/s (512 x 2048 -> 5632)\n`);
      const rows = benchKernels(be, undefined, (r) => {
        if (!f.json) process.stdout.write(`${r.dtype.padEnd(6)}  ${r.matvecGBps.toFixed(1).padStart(29)}  ${r.matmulGflops.toFixed(1).padStart(36)}\n`);
      });
      if (f.json) process.stdout.write(JSON.stringify({ backend: be.name, threads: be.threads, readGBps: read, rows }, null, 2) + '\n');
    }));
}
