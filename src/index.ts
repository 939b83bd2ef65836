// The library's public face.

export { loadModel, type LoadedModel, type LoadOptions } from './model/load-model.js';
export { CausalLM, type ForwardBatch } from './model/architectures/decoder.js';
export type { ModelConfig } from './model/config.js';
export { Tokenizer, IncrementalDetokenizer } from './model/tokenizer/tokenizer.js';
export { renderChatTemplate, type ChatMessage } from './model/tokenizer/chat-template.js';
export { ModelLoadError, UsageError } from './util/errors.js';
export { pullModel } from './model/hub/hub-download.js';
export type { Backend } from './kernels/backend.js';
export { ReferenceBackend } from './kernels/reference/reference-backend.js';
export { makeSamplingParams, type SamplingParams, type SamplingParamsInput } from './engine/sampling/sampling-params.js';
export { LLM, type LLMOutput, type CompletionOutput, type LLMGenerateOptions } from './engine/llm.js';
export { AsyncEngine, type SampleOutput, type GenerateOptions } from './engine/async-engine.js';
export { EngineCore } from './engine/engine-core.js';
export type { RequestOutput } from './engine/output/output-processor.js';
export type { EngineStats, NewRequest } from './engine/engine-requests.js';
export type { EngineOptions, EngineInfo } from './engine/engine-options.js';
export { resolveEngineConfig, type EngineConfig, type EngineConfigInput } from './engine/engine-config.js';
