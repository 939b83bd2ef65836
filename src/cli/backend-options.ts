// The flags every command that runs a model shares: which kernels, how many threads, and
// quantization at load.

import { InvalidArgumentError, Option, type Command } from 'commander';
import { BACKEND_KINDS, createBackend, type BackendKind } from '../kernels/create-backend.js';
import type { Backend } from '../kernels/backend.js';
import type { Quantization } from '../model/quantize-weights.js';
import { QUANT_TYPE_NAMES, parseQuantType } from '../model/quantize/tensor-types.js';
import { UsageError } from '../util/errors.js';
import { parseIntArg } from './run-command.js';
import { layerProgress } from './load-progress.js';
import type { LoadFormat, LoadOptions } from '../model/load-model.js';
import type { EngineOptions } from '../engine/engine-options.js';

export interface BackendFlags {
  backend: BackendKind;
  threads?: number;
  quantization?: Quantization;
}

export function addBackendOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backend <kind>', 'kernels: native (C++ addon) when built, else the TypeScript reference').choices(BACKEND_KINDS).default('auto'))
    .option('--threads <n>', 'threads for the native kernels (default: physical cores)', parseIntArg('--threads'))
    .option('--quantization <type>', `quantize the weights at load, as tsllm quantize --type would (${QUANT_TYPE_NAMES.join(', ')})`, (v: string) => {
      const t = parseQuantType(v);
      if (!t) throw new InvalidArgumentError(`choose from ${QUANT_TYPE_NAMES.join(', ')}`);
      return t;
    });
}

/** The load option that quantizes on `backend` when --quantization is given. */
export function quantizeFlag(f: BackendFlags, backend: Backend): Pick<LoadOptions, 'quantization' | 'onQuantizeLayer'> {
  if (!f.quantization) return {};
  const onQuantizeLayer = layerProgress('quantizing');
  return { quantization: { format: f.quantization, backend }, ...(onQuantizeLayer ? { onQuantizeLayer } : {}) };
}

/** Which model an engine loads, and how, from a command's flags (--model already resolved). */
export function modelOptions(f: BackendFlags & { model: string; loadFormat: LoadFormat; tokenizer?: string }): Pick<EngineOptions, 'model' | 'loadFormat' | 'tokenizer' | 'quantization' | 'backend' | 'threads'> {
  return {
    model: f.model, loadFormat: f.loadFormat,
    ...(f.tokenizer ? { tokenizer: f.tokenizer } : {}), ...(f.quantization ? { quantization: f.quantization } : {}),
    ...(f.backend ? { backend: f.backend } : {}), ...(f.threads ? { threads: f.threads } : {}),
  };
}

export function backendFromFlags(f: BackendFlags): Backend {
  if (f.threads !== undefined && f.threads < 1) throw new UsageError('--threads must be at least 1');
  try {
    return createBackend({ backend: f.backend, ...(f.threads ? { threads: f.threads } : {}) });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
