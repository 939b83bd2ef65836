// Everything needed to start an engine: what to load, which kernels, and the engine's knobs. It
// crosses into the engine worker as plain data.

import type { BackendKind } from '../kernels/create-backend.js';
import type { ModelConfig } from '../model/config.js';
import type { ModelPooling, PoolingType } from '../model/pooling-config.js';
import type { LoadFormat } from '../model/load-model.js';
import type { SerializedTokenizer } from '../model/tokenizer/tokenizer.js';
import type { Quantization } from '../model/quantize-weights.js';
import type { EngineConfig, EngineConfigInput } from './engine-config.js';
import type { SamplingParamsInput } from './sampling/sampling-params.js';
import type { ParallelOptionsInput } from './parallel/parallel-options.js';
import type { KVTransferConfig, KVTransferRole } from './kv-transfer/kv-transfer-config.js';
import type { KVEventsConfig } from './kv-events/kv-events-config.js';

export interface EngineOptions extends EngineConfigInput, ParallelOptionsInput {
  /** A Hugging Face folder, a .gguf or llama2.c file, a Hub id, or a preset name with loadFormat 'dummy'. */
  model: string;
  loadFormat?: LoadFormat;
  tokenizer?: string;
  quantization?: Quantization;
  backend?: BackendKind;
  threads?: number;
  /** Embeddings: pool this way instead of as the model says. */
  pooling?: PoolingType;
  /** Prefill/decode disaggregation (--kv-transfer-role, --kv-transfer-config). */
  kvTransfer?: KVTransferConfig;
  /** Publish the prefix cache's changes (vLLM's --kv-events-config). */
  kvEvents?: KVEventsConfig;
  /** This engine's rank among data-parallel replicas (stamped on its KV event batches). */
  dataParallelRank?: number;
}

/** What the engine reports once its model is loaded. */
export interface EngineInfo {
  model: ModelConfig;
  config: EngineConfig;
  source: string;
  backend: string;
  /** The model's tokenizer, to rebuild on the main thread (chat templates, /tokenize, length checks). */
  tokenizer: SerializedTokenizer | null;
  /** Sampling defaults from generation_config.json. */
  generationDefaults: SamplingParamsInput;
  /** How embeddings are pooled (the model's way, or --pooling). */
  pooling: ModelPooling;
  /** Longest prompt + output a request may reach. */
  maxSequenceTokens: number;
  loadMs: number;
  /** Prefill/decode disaggregation: the role, and where a prefill side serves its blocks. */
  kvTransfer: { role: KVTransferRole; engineId: string; port: number | null } | null;
  /** Where the KV-cache events are published (endpoints as bound). */
  kvEvents: { endpoint: string; replayEndpoint: string | null; topic: string } | null;
}
