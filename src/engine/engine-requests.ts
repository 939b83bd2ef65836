// What goes into the engine core and what its stats say: a new request, the admission checks it must
// pass, and the gauges and counters after each step.

import type { PoolingParams } from './pooling/pooler.js';
import type { SamplingParams } from './sampling/sampling-params.js';
import type { SpecDecodeStats } from './spec-decode/spec-decoder.js';
import type { KVTransferStats } from './kv-transfer/kv-connector.js';

export interface NewRequest {
  id: string;
  promptIds: readonly number[];
  params: SamplingParams;
  /** Lower is served first under the priority policy. */
  priority?: number;
  /** Which of n samples this is: sample i of a seeded request draws from seed + i. */
  sampleIndex?: number;
  /** Epoch ms the request reached the engine (defaults to now). */
  arrival?: number;
  /** An embedding request: pool its prompt's hidden states this way instead of generating. */
  pooling?: PoolingParams;
}

export interface EngineStats {
  numRunning: number;
  numWaiting: number;
  kvCacheUsage: number;
  prefixCacheQueries: number;
  prefixCacheHits: number;
  numPreemptions: number;
  /** Tokens computed in the last step (prompt and decode). */
  numBatchedTokens: number;
  /** Prompt tokens of the requests that have produced their first token, since start-up. */
  promptTokens: number;
  /** Prefill/decode disaggregation's transfers since start-up (absent when it is off). */
  kvTransfer?: KVTransferStats;
  /** Blocks the prefix cache indexes now (present when KV-cache events are published). */
  cachedBlocks?: number;
  /** Once idle: the KV cache's accounting problems, empty when consistent (absent while busy). */
  kvAudit?: string[];
  /** Speculative decoding since start-up (absent when it is off). */
  spec?: SpecDecodeStats;
}

/**
 * Why a prompt can never run (empty, ids outside the vocabulary, longer than the context or the cache),
 * or null. A generated token needs one position past the prompt; an embedding does not.
 */
export function admissionError(promptIds: readonly number[], vocab: number, maxModelLen: number, maxSequenceTokens: number, embedding = false): string | null {
  const n = promptIds.length;
  const room = embedding ? 0 : 1;
  if (n === 0) return 'the prompt is empty: give at least one token';
  const bad = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
  if (bad !== undefined) return `prompt token id ${bad} is outside the vocabulary (0..${vocab - 1})`;
  if (n + room > maxModelLen) {
    return `the prompt has ${n} tokens, but the maximum context length is ${maxModelLen} tokens${embedding ? '' : ' (prompt plus at least one generated token)'}`;
  }
  if (n + room > maxSequenceTokens) return `the prompt has ${n} tokens, but the whole KV cache holds ${maxSequenceTokens} tokens; raise --kv-cache-memory or shorten the prompt`;
  return null;
}
