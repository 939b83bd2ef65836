// Chooses the kernels a model runs on: the native addon when it is built (its fastest build this CPU
// runs, or the one TSLLM_ISA names), else the TypeScript reference backend, with a one-time notice that
// the fast path is missing.

import fs from 'node:fs';
import os from 'node:os';
import type { Backend } from './backend.js';
import { loadNativeAddon, type NativeAddon } from './native/native-addon.js';
import { NativeBackend } from './native/native-backend.js';
import { ReferenceBackend } from './reference/reference-backend.js';
import { UsageError } from '../util/errors.js';

export const BACKEND_KINDS = ['auto', 'native', 'native-portable', 'reference'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

export interface BackendOptions {
  backend?: BackendKind;
  /** Threads for the native kernels; default: physical cores. */
  threads?: number;
  /** Where the one-time notice goes (stderr by default). */
  warn?: (message: string) => void;
}

let warned = false;

export function createBackend(options: BackendOptions = {}): Backend {
  const kind = options.backend ?? 'auto';
  if (kind === 'reference') return new ReferenceBackend();
  const load = loadNativeAddon();
  if (!load.ok) {
    if (kind !== 'auto') throw new UsageError(`the native backend is unavailable: ${load.reason}`);
    if (!warned) {
      warned = true;
      (options.warn ?? ((m) => process.stderr.write(`${m}\n`)))(
        `tsllm: warning: native kernels ${load.reason}; running on the TypeScript reference backend, which is slow`,
      );
    }
    return new ReferenceBackend();
  }
  const isa = kind === 'native-portable' ? 'generic' : forcedIsa(load.addon);
  return new NativeBackend(load.addon, { threads: options.threads ?? physicalCores(), ...(isa ? { isa } : {}) });
}

export const ISA_ENV = 'TSLLM_ISA';

/** The kernel build TSLLM_ISA asks for (checked against what this CPU runs), or undefined for the fastest. */
export function forcedIsa(addon: NativeAddon, value = process.env[ISA_ENV]): string | undefined {
  if (!value) return undefined;
  const variants = addon.isaVariants();
  const v = variants.find((x) => x.name === value);
  if (!v) throw new UsageError(`${ISA_ENV}=${value}: no such kernel build; one of ${variants.map((x) => x.name).join(', ')}`);
  if (!v.runnable) throw new UsageError(`${ISA_ENV}=${value}: this CPU lacks ${v.missing}, which the ${value} kernels need`);
  return value;
}

/** Physical cores (hyper-threads share one core's FMA units, so they do not speed up matmuls). */
export function physicalCores(): number {
  try {
    const cores = new Set<string>();
    let physical = '0';
    for (const line of fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n')) {
      const [key, value] = line.split(':').map((s) => s.trim());
      if (key === 'physical id') physical = value!;
      else if (key === 'core id') cores.add(`${physical}:${value}`);
    }
    if (cores.size > 0) return Math.min(cores.size, os.availableParallelism());
  } catch {
    // not Linux: fall through
  }
  return os.availableParallelism();
}
