// The engine's knobs, their defaults, and how a memory budget becomes a number of KV blocks.

import { constants as bufferConstants } from 'node:buffer';
import os from 'node:os';
import type { ModelConfig } from '../model/config.js';
import { UsageError } from '../util/errors.js';
import { KV_CACHE_DTYPES, kvBytesPerToken, kvDTypeUnsupported, type KVCacheDType } from '../kernels/kv-cache-dtype.js';
import type { SchedulerKind, SchedulingPolicy } from './scheduler/scheduler.js';
import { checkDraftCompatible, resolveSpeculativeConfig, type SpeculativeConfig, type SpeculativeConfigInput } from './spec-decode/speculative-config.js';

export interface EngineConfigInput extends SpeculativeConfigInput {
  /** Bytes for K and V of all layers; default: KV_CACHE_FRACTION_OF_FREE_RAM of the free RAM at start-up. */
  kvCacheMemory?: number;
  /** Tokens per KV block. */
  blockSize?: number;
  /** How K/V are stored; `auto` (the default) is f16 on CPU. */
  kvCacheDtype?: KVCacheDTypeOption;
  /** Longest prompt + output; default: the model's context. */
  maxModelLen?: number;
  maxNumBatchedTokens?: number;
  maxNumSeqs?: number;
  enablePrefixCaching?: boolean;
  scheduler?: SchedulerKind;
  schedulingPolicy?: SchedulingPolicy;
  /** false: recompute every request's whole sequence each step (what the KV cache saves; no prefix caching). */
  kvCache?: boolean;
}

export interface EngineConfig {
  numBlocks: number;
  blockSize: number;
  kvCacheDtype: KVCacheDType;
  kvCacheBytes: number;
  maxModelLen: number;
  maxNumBatchedTokens: number;
  maxNumSeqs: number;
  enablePrefixCaching: boolean;
  scheduler: SchedulerKind;
  schedulingPolicy: SchedulingPolicy;
  speculative: SpeculativeConfig | null;
  kvCache: boolean;
}

/** What users may ask for: a dtype, or `auto` (f16 on CPU, like vLLM's auto = the model's half dtype). */
export type KVCacheDTypeOption = KVCacheDType | 'auto';
export const KV_CACHE_DTYPE_OPTIONS: readonly KVCacheDTypeOption[] = ['auto', ...KV_CACHE_DTYPES];
export const KV_CACHE_DTYPE_AUTO: KVCacheDType = 'f16';

export function resolveKVCacheDType(option: string | undefined): KVCacheDType {
  const v = option ?? 'auto';
  if (v === 'auto') return KV_CACHE_DTYPE_AUTO;
  if ((KV_CACHE_DTYPES as readonly string[]).includes(v)) return v as KVCacheDType;
  throw new UsageError(`kv cache dtype must be one of ${KV_CACHE_DTYPE_OPTIONS.join(', ')}; got '${v}'`);
}

/** The default KV budget's share of free RAM (the weights are memory-mapped and mostly page cache). */
export const KV_CACHE_FRACTION_OF_FREE_RAM = 0.3;
export const DEFAULT_BLOCK_SIZE = 16;
export const DEFAULT_MAX_NUM_BATCHED_TOKENS = 2048;
export const DEFAULT_MAX_NUM_SEQS = 256;

/** `draftModel`: a separate draft model's config, whose KV shares the blocks (and so the budget). */
export function resolveEngineConfig(model: ModelConfig, input: EngineConfigInput = {}, draftModel?: ModelConfig): EngineConfig {
  const blockSize = input.blockSize ?? DEFAULT_BLOCK_SIZE;
  positiveInt('blockSize', blockSize);
  const maxModelLen = input.maxModelLen ?? model.maxPositions;
  positiveInt('maxModelLen', maxModelLen);
  if (maxModelLen > model.maxPositions) {
    throw new UsageError(`maxModelLen ${maxModelLen} is longer than the model's context of ${model.maxPositions} tokens`);
  }
  const maxNumBatchedTokens = input.maxNumBatchedTokens ?? DEFAULT_MAX_NUM_BATCHED_TOKENS;
  positiveInt('maxNumBatchedTokens', maxNumBatchedTokens);
  const maxNumSeqs = input.maxNumSeqs ?? DEFAULT_MAX_NUM_SEQS;
  positiveInt('maxNumSeqs', maxNumSeqs);

  const kvCacheDtype = resolveKVCacheDType(input.kvCacheDtype);
  const unsupported = kvDTypeUnsupported(kvCacheDtype, model.headDim);
  if (unsupported) throw new UsageError(unsupported);
  const speculative = resolveSpeculativeConfig(model, input);
  if (speculative && (input.scheduler ?? 'continuous') !== 'continuous') throw new UsageError('speculative decoding needs the continuous scheduler');
  const kvCache = input.kvCache ?? true;
  if (speculative && !kvCache) throw new UsageError('speculative decoding needs the KV cache');
  if (speculative?.method === 'draft-model' && draftModel) {
    checkDraftCompatible(model, draftModel);
    const draftUnsupported = kvDTypeUnsupported(kvCacheDtype, draftModel.headDim);
    if (draftUnsupported) throw new UsageError(`draft model: ${draftUnsupported}`);
  }
  const draftBytes = speculative?.method === 'draft-model' && draftModel ? kvBytesPerToken(kvCacheDtype, draftModel.numLayers, draftModel.numKvHeads, draftModel.headDim, draftModel.mla ? 1 : 2) : 0;
  const bytesPerBlock = (kvBytesPerToken(kvCacheDtype, model.numLayers, model.numKvHeads, model.headDim, model.mla ? 1 : 2) + draftBytes) * blockSize;
  const budget = input.kvCacheMemory ?? Math.floor(os.freemem() * KV_CACHE_FRACTION_OF_FREE_RAM);
  if (!(budget > 0)) throw new UsageError(`kvCacheMemory must be a positive number of bytes, got ${budget}`);
  // More blocks than max-num-seqs full-length sequences can use would only waste address space.
  const usefulBlocks = maxNumSeqs * Math.ceil(maxModelLen / blockSize);
  // Each layer's pool is one buffer, which Node caps (4 GiB): a model of few layers (or a pipeline
  // stage of one) would otherwise put a large budget into one pool it cannot allocate. Less one block:
  // the runner adds a scratch block.
  const poolBlocks = Math.floor(bufferConstants.MAX_LENGTH / (kvBytesPerToken(kvCacheDtype, 1, model.numKvHeads, model.headDim, 1) * blockSize)) - 1;
  const numBlocks = Math.min(Math.floor(budget / bytesPerBlock), usefulBlocks, poolBlocks);
  if (numBlocks < 1) {
    throw new UsageError(`kvCacheMemory of ${budget} bytes holds no block: one block of ${blockSize} tokens needs ${bytesPerBlock} bytes`);
  }
  return {
    numBlocks,
    blockSize,
    kvCacheDtype,
    kvCacheBytes: numBlocks * bytesPerBlock,
    maxModelLen,
    maxNumBatchedTokens,
    maxNumSeqs,
    enablePrefixCaching: (input.enablePrefixCaching ?? true) && (input.scheduler ?? 'continuous') === 'continuous' && kvCache,
    scheduler: input.scheduler ?? 'continuous',
    schedulingPolicy: input.schedulingPolicy ?? 'fcfs',
    speculative,
    kvCache,
  };
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new UsageError(`${name} must be a positive integer, got ${v}`);
}

/** "1234 blocks of 16 tokens (19744 tokens, 1.2 GiB, f16)": what the start-up log prints. */
export function describeCapacity(c: EngineConfig): string {
  return `${c.numBlocks} blocks of ${c.blockSize} tokens (${c.numBlocks * c.blockSize} tokens, ${(c.kvCacheBytes / 2 ** 30).toFixed(2)} GiB, ${c.kvCacheDtype})`;
}
