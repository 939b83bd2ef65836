// Everything `tsllm calc` reports for one model on one machine, as plain data (the table and --json
// both print this).

import type { ModelConfig } from '../model/config.js';
import type { Hardware } from './hardware.js';
import { activationBytes, countParams, flopsPerToken, kvBytesPerToken, type KvDtype } from './model-math.js';
import { parallelLayout, type ParallelLayout, type ParallelLink } from './parallel-layout.js';
import { batchSweep, decodeStep, maxBatchInMemory, prefillSeconds, seedOptimalBatch, type DecodeStep } from './roofline.js';

export interface CalcInput {
  config: ModelConfig;
  /** Bytes of all weights as stored (measured from a file, or parameters x bytes per parameter). */
  weightBytes: number;
  /** Storage format of the weights, for the report. */
  dtype: string;
  kvDtype: KvDtype;
  hardware: Hardware;
  batchSize: number;
  /** Tokens per sequence in the decode step (prompt plus generated so far). */
  context: number;
  promptLen: number;
  /** Ranks and the link between them, for the parallel layout's line; absent = one process. */
  parallel?: { tp: number; pp: number; link: ParallelLink };
}

export interface CalcReport {
  dtype: string;
  params: number;
  activeParams: number;
  weightBytes: number;
  bytesPerParam: number;
  kvDtype: KvDtype;
  kvBytesPerToken: number;
  /** KV for batchSize sequences of `context` tokens. */
  kvBytes: number;
  /** One decode step of batchSize sequences, and one prefill of promptLen tokens. */
  activationBytesDecode: number;
  activationBytesPrefill: number;
  flopsPerToken: number;
  hardware: Hardware;
  batchSize: number;
  context: number;
  decode: DecodeStep;
  seedOptimalBatch: number;
  maxBatchInMemory: number;
  /** The smaller of the two: past it, either compute or memory runs out. */
  optimalBatch: number;
  sweep: DecodeStep[];
  prefill: { promptTokens: number; seconds: number; bound: 'compute' | 'memory' };
  parallel?: ParallelLayout;
}

export function calcReport(i: CalcInput): CalcReport {
  const p = countParams(i.config);
  const kvPerToken = kvBytesPerToken(i.config, i.kvDtype);
  const shape = { weightBytes: i.weightBytes, kvBytesPerToken: kvPerToken, context: i.context };
  const bytesPerParam = i.weightBytes / p.total;
  const seed = seedOptimalBatch(i.hardware, bytesPerParam);
  const actDecode = activationBytes(i.config, i.batchSize);
  const fits = maxBatchInMemory(i.hardware, shape, actDecode);
  const optimal = Math.max(0, Math.min(Math.round(seed), fits));
  return {
    dtype: i.dtype,
    params: p.total,
    activeParams: p.activePerToken,
    weightBytes: i.weightBytes,
    bytesPerParam,
    kvDtype: i.kvDtype,
    kvBytesPerToken: kvPerToken,
    kvBytes: i.batchSize * i.context * kvPerToken,
    activationBytesDecode: actDecode,
    activationBytesPrefill: activationBytes(i.config, i.promptLen),
    flopsPerToken: flopsPerToken(i.config, i.context),
    hardware: i.hardware,
    batchSize: i.batchSize,
    context: i.context,
    decode: decodeStep(i.config, i.hardware, shape, i.batchSize),
    seedOptimalBatch: seed,
    maxBatchInMemory: fits,
    optimalBatch: optimal,
    sweep: batchSweep(Math.max(1, Math.min(Math.max(fits, 1), 4096)), [seed, i.batchSize]).map((b) => decodeStep(i.config, i.hardware, shape, b)),
    prefill: { promptTokens: i.promptLen, ...prefillSeconds(i.config, i.hardware, shape, i.promptLen) },
    ...(i.parallel ? { parallel: parallelLayout(i.config, i.hardware, shape, i.batchSize, i.parallel.tp, i.parallel.pp, i.parallel.link) } : {}),
  };
}
