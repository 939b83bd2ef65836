// The flags of every command that starts the engine: KV-cache budget, dtype and block size, batch
// limits, prefix caching, the scheduler and speculative decoding.

import { Option, type Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { EngineConfigInput } from '../engine/engine-config.js';
import { KV_CACHE_FRACTION_OF_FREE_RAM } from '../engine/engine-config.js';
import { SCHEDULING_POLICIES, type SchedulingPolicy } from '../engine/scheduler/scheduler.js';
import { DEFAULT_NUM_SPECULATIVE_TOKENS, SPECULATIVE_METHODS, type SpeculativeConfigInput } from '../engine/spec-decode/speculative-config.js';
import { parseIntArg } from './run-command.js';
import { modelOptions, type BackendFlags } from './backend-options.js';
import type { EngineOptions } from '../engine/engine-options.js';
import type { LoadFormat } from '../model/load-model.js';
import { KV_CACHE_DTYPE_AUTO, KV_CACHE_DTYPE_OPTIONS, type KVCacheDTypeOption } from '../engine/engine-config.js';
import { addParallelOptions, parallelFromFlags, type ParallelFlags } from './parallel-flags.js';

export interface EngineFlags extends SpeculativeConfigInput, ParallelFlags {
  kvCacheMemory?: number;
  kvCacheDtype: KVCacheDTypeOption;
  blockSize?: number;
  maxModelLen?: number;
  maxNumBatchedTokens?: number;
  maxNumSeqs?: number;
  enablePrefixCaching: boolean;
  schedulingPolicy: SchedulingPolicy;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 2 ** 10, m: 1e6, mb: 1e6, mib: 2 ** 20, g: 1e9, gb: 1e9, gib: 2 ** 30 };

/** "4GiB", "512MB", "1e9" -> bytes. */
export function parseBytes(v: string): number {
  const m = /^\s*([\d.]+(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(v);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes > 0)) throw new InvalidArgumentError(`expected a size such as 2GiB, 512MiB or a number of bytes, got "${v}"`);
  return bytes;
}

export function addEngineOptions(cmd: Command): Command {
  return addParallelOptions(cmd)
    .option('--kv-cache-memory <size>', `KV-cache budget, e.g. 2GiB (default: ${KV_CACHE_FRACTION_OF_FREE_RAM * 100}% of free RAM at start-up)`, parseBytes)
    .addOption(kvCacheDtypeOption())
    .option('--block-size <n>', 'tokens per KV-cache block (default 16)', parseIntArg('--block-size'))
    .option('--max-model-len <n>', 'longest prompt + output (default: the model\'s context)', parseIntArg('--max-model-len'))
    .option('--max-num-batched-tokens <n>', 'tokens per engine step, decode and prefill chunks together (default 2048)', parseIntArg('--max-num-batched-tokens'))
    .option('--max-num-seqs <n>', 'requests running at once (default 256)', parseIntArg('--max-num-seqs'))
    .option('--no-enable-prefix-caching', 'do not reuse the KV blocks of shared prompt prefixes')
    .addOption(new Option('--scheduling-policy <policy>', 'fcfs, or priority (lower value first)').choices(SCHEDULING_POLICIES).default('fcfs'))
    .addOption(new Option('--speculative-method <method>', 'speculative decoding: ngram (prompt lookup), draft-model (with --speculative-model), layer-skip (the model\'s first --draft-layers layers)').choices(SPECULATIVE_METHODS))
    .option('--speculative-model <model>', 'draft model sharing the target\'s tokenizer (implies --speculative-method draft-model)')
    .option('--num-speculative-tokens <k>', `draft tokens per step (default ${DEFAULT_NUM_SPECULATIVE_TOKENS})`, parseIntArg('--num-speculative-tokens'))
    .option('--prompt-lookup-min <n>', 'ngram: shortest suffix to match (default 2)', parseIntArg('--prompt-lookup-min'))
    .option('--prompt-lookup-max <n>', 'ngram: longest suffix to match (default 4)', parseIntArg('--prompt-lookup-max'))
    .option('--draft-layers <n>', 'layer-skip: layers the draft keeps (default half)', parseIntArg('--draft-layers'));
}

/** The engine's settings among a command's flags; flags not given are left out (the engine's defaults apply). */
export function engineConfigFromFlags(f: EngineFlags): EngineConfigInput {
  const all: EngineConfigInput = {
    kvCacheMemory: f.kvCacheMemory, kvCacheDtype: f.kvCacheDtype, blockSize: f.blockSize, maxModelLen: f.maxModelLen,
    maxNumBatchedTokens: f.maxNumBatchedTokens, maxNumSeqs: f.maxNumSeqs, enablePrefixCaching: f.enablePrefixCaching,
    schedulingPolicy: f.schedulingPolicy, speculativeMethod: f.speculativeMethod, speculativeModel: f.speculativeModel,
    numSpeculativeTokens: f.numSpeculativeTokens, promptLookupMin: f.promptLookupMin, promptLookupMax: f.promptLookupMax, draftLayers: f.draftLayers,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as EngineConfigInput;
}

/** --kv-cache-dtype, shared with the commands that run one sequence (generate, bench latency). */
export function kvCacheDtypeOption(): Option {
  return new Option('--kv-cache-dtype <dtype>', `how K/V are stored (auto = ${KV_CACHE_DTYPE_AUTO} on CPU); 8-bit doubles and int4 about 3.5x the tokens that fit`)
    .choices(KV_CACHE_DTYPE_OPTIONS)
    .default('auto');
}

/** What to start an engine with, from a command's model, backend and engine flags. */
export function engineOptionsFromFlags(f: EngineFlags & BackendFlags & { model: string; loadFormat: LoadFormat; tokenizer?: string }): EngineOptions {
  return { ...modelOptions(f), ...engineConfigFromFlags(f), ...parallelFromFlags(f) };
}
