// The messages between the async engine (main thread) and the engine core's worker.

import { ModelLoadError, UsageError } from '../util/errors.js';
import type { EngineInfo, EngineOptions } from './engine-options.js';
import type { RequestOutput } from './output/output-processor.js';
import type { EngineStats } from './engine-requests.js';
import type { PoolingParams } from './pooling/pooler.js';
import type { SamplingParams } from './sampling/sampling-params.js';
import type { KVTransferRequest, RemoteBlocks } from './kv-transfer/kv-transfer-config.js';

export interface AddRequestMessage {
  type: 'add';
  id: string;
  /** Text is tokenized in the worker (BOS as the tokenizer says); ids are used as given. */
  prompt: string | number[];
  params: SamplingParams;
  priority: number;
  sampleIndex: number;
  arrival: number;
  /** An embedding request. */
  pooling?: PoolingParams;
  /** Prefill/decode disaggregation: prefill for a remote decode, or decode from a remote prefill. */
  kvTransfer?: KVTransferRequest;
}

export type ToWorker = AddRequestMessage | { type: 'abort'; ids: string[] } | { type: 'shutdown' }
  /** A request that carried a prefill's blocks was refused before the engine saw it: let them go. */
  | { type: 'kv-release'; remote: RemoteBlocks };

export interface SerializedError {
  name: string;
  message: string;
  /** ModelLoadError's parts. */
  file?: string;
  problem?: string;
}

/** A layer of the model (or of the draft) done in one stage of loading. */
export interface LoadProgress {
  type: 'load-progress';
  stage: 'quantizing' | 'packing weights';
  model: 'target' | 'draft';
  done: number;
  total: number;
}

export type FromWorker =
  | { type: 'ready'; info: EngineInfo }
  | LoadProgress
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'admitted'; id: string; promptTokenIds: number[] }
  | { type: 'rejected'; id: string; error: SerializedError }
  | { type: 'outputs'; outputs: RequestOutput[]; stats: EngineStats }
  /** The step failed; these requests were ended and their blocks freed. The engine keeps serving. */
  | { type: 'step-failed'; ids: string[]; error: SerializedError }
  /** A rank of a multi-process job failed: the engine has stopped; `ids` were in flight. */
  | { type: 'world-failed'; ids: string[]; error: SerializedError };

export interface WorkerData {
  options: EngineOptions;
  /** The rendezvous store of a multi-process job (rank 0 serves it in the main thread). */
  master?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof ModelLoadError) return { name: e.name, message: e.message, file: e.file, problem: e.problem };
  return e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
}

/** The error again, as the class the user's code can test for. */
export function deserializeError(e: SerializedError): Error {
  if (e.name === 'UsageError') return new UsageError(e.message);
  if (e.name === 'ModelLoadError') return new ModelLoadError(e.file ?? '', e.problem ?? e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
