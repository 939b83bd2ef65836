// tsllm env: the facts a bug report needs: tsllm's and Node's versions, the Hub cache, the CPU, the kernel
// builds and which one runs and why, the default thread count, and the formats the kernels share.

import fs from 'node:fs';
import os from 'node:os';
import { Command } from 'commander';
import { ISA_ENV, forcedIsa, physicalCores } from '../kernels/create-backend.js';
import { WEIGHT_FORMATS, KV_FORMATS } from '../kernels/formats.js';
import { loadNativeAddon } from '../kernels/native/native-addon.js';
import { runCommand } from './run-command.js';
import { hubCacheDir } from '../model/hub/hub-download.js';
import { TSLLM_VERSION } from '../util/version.js';

function cpuModel(): string {
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function envLines(): string[] {
  const lines = [
    `tsllm ${TSLLM_VERSION}, node ${process.version} on ${os.platform()}-${os.arch()}`,
    `hub cache: ${hubCacheDir()} (HF_HUB_CACHE, else HF_HOME/hub)`,
    `cpu: ${cpuModel()}, ${physicalCores()} physical cores (the default thread count)`,
  ];
  const load = loadNativeAddon();
  if (!load.ok) return [...lines, `kernels: TypeScript reference backend (native addon ${load.reason})`];
  const forced = forcedIsa(load.addon);
  const why = forced ? `forced by ${ISA_ENV}=${forced}` : `the fastest build this CPU runs (${ISA_ENV} unset)`;
  lines.push(`kernels: native-${forced ?? load.addon.cpuIsa()}, ${why}; builds:`);
  for (const v of load.addon.isaVariants()) {
    const needs = v.requires ? `needs ${v.requires}` : 'portable C++';
    lines.push(`  ${v.name.padEnd(8)} ${v.runnable ? 'runs here' : `lacks ${v.missing}`} (${needs})`);
  }
  lines.push(`formats (native and TypeScript agree): weights ${Object.keys(WEIGHT_FORMATS).join(' ')}; KV cache ${Object.keys(KV_FORMATS).join(' ')}`);
  return lines;
}

export function envCommand(): Command {
  return new Command('env')
    .description(`the machine as tsllm sees it: CPU, kernel builds and which one runs (force one with ${ISA_ENV}=generic|avx2|avxvnni|avx512)`)
    .action(() => runCommand(async () => {
      process.stdout.write(`${envLines().join('\n')}\n`);
    }));
}
