// The library's public face.

export { loadModel, type LoadedModel, type LoadOptions } from './model/load-model.js';
export { CausalLM, type ForwardBatch } from './model/architectures/decoder.js';
export type { ModelConfig } from './model/config.js';
export { Tokenizer, IncrementalDetokenizer } from './model/tokenizer/tokenizer.js';
export { renderChatTemplate, type ChatMessage } from './model/tokenizer/chat-template.js';
export { ModelLoadError, UsageError } from './model/errors.js';
export { pullModel } from './model/hub/hub-download.js';
export type { Backend } from './kernels/backend.js';
export { ReferenceBackend } from './kernels/reference/reference-backend.js';
export { TextGenerator, type GenerationResult, type GenerationChunk } from './engine/text-generator.js';
export { SequenceContext } from './engine/sequence-context.js';
export { makeSamplingParams, type SamplingParams, type SamplingParamsInput } from './engine/sampling/sampling-params.js';
