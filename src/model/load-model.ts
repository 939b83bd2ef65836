// One entry point from whatever the user points at (a Hugging Face folder, a .gguf file, a llama2.c
// .bin, a Hub id, or a preset with --load-format dummy) to config, weights and tokenizer.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../kernels/backend.js';
import type { ModelConfig } from './config.js';
import { ModelLoadError, UsageError } from '../util/errors.js';
import type { ModelWeights } from './weights.js';
import { loadHfWeights, readHfConfig, readJsonFile } from './loaders/hf-folder.js';
import { DEFAULT_POOLING, ggufPooling, hfPooling, type ModelPooling } from './pooling-config.js';
import { GgufFile } from './loaders/gguf.js';
import { ggufConfig, ggufWeights } from './loaders/gguf-model.js';
import { loadLlama2c, loadLlama2cTokenizer } from './loaders/llama2c.js';
import { dummyWeights, presetConfig } from './loaders/dummy.js';
import { loadHfTokenizer } from './tokenizer/hf-tokenizer-files.js';
import { ggufTokenizer } from './tokenizer/gguf-tokenizer.js';
import { byteTokenizer } from './tokenizer/byte-tokenizer.js';
import { Tokenizer } from './tokenizer/tokenizer.js';

import { quantizeWeights, type Quantization } from './quantize-weights.js';

export const LOAD_FORMATS = ['auto', 'safetensors', 'gguf', 'llama2c', 'dummy'] as const;
export type LoadFormat = (typeof LOAD_FORMATS)[number];

/** Sampling defaults a model ships (generation_config.json), in the engine's parameter names. */
export interface GenerationDefaults {
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
}

export interface LoadedModel {
  config: ModelConfig;
  weights: ModelWeights;
  tokenizer: Tokenizer | null;
  /** Sampling defaults from generation_config.json. */
  generationDefaults: GenerationDefaults;
  /** How its embeddings are pooled. */
  pooling: ModelPooling;
  source: string;
  format: Exclude<LoadFormat, 'auto'>;
}

export interface LoadOptions {
  loadFormat?: LoadFormat;
  /** A tokenizer folder or file overriding the model's own. */
  tokenizer?: string;
  /** Resolves a Hub id to a local folder (downloading it); absent = Hub ids are not accepted. */
  resolveHubId?: (id: string) => Promise<string>;
  /** Re-encode the matrices at load (Hugging Face weights into llama.cpp's block formats), on the backend's kernels. */
  quantization?: { format: Quantization; backend: Backend };
  /** Hears of each layer quantized at load. */
  onQuantizeLayer?: (done: number, total: number) => void;
}

export const DEMO_MODEL = 'demo';

/**
 * The model that runs when none is named: Karpathy's stories260K (llama2.c, MIT; assets/stories260K
 * holds its licence), a real trained model small enough to ship, with its 512-token tokenizer.
 */
export const BUILTIN_MODEL = fileURLToPath(new URL('../../../assets/stories260K', import.meta.url));
export const BUILTIN_PROMPT = 'Once upon a time';

export async function loadModel(spec: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const loaded = await loadUnquantized(spec, opts);
  const q = opts.quantization;
  return q ? { ...loaded, weights: quantizeWeights(loaded.weights, q.format, q.backend, opts.onQuantizeLayer) } : loaded;
}

async function loadUnquantized(spec: string, opts: LoadOptions): Promise<LoadedModel> {
  const format = opts.loadFormat ?? 'auto';
  if (format === 'dummy') return loadDummy(spec);
  if (!fs.existsSync(spec)) {
    if (/^[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(spec) && opts.resolveHubId) return loadUnquantized(await opts.resolveHubId(spec), opts);
    throw new ModelLoadError(spec, 'no such file or folder (give a model folder, a .gguf or llama2.c .bin file, or a Hub id ORG/NAME)');
  }
  const isDir = fs.statSync(spec).isDirectory();
  if (isDir) {
    if (format !== 'auto' && format !== 'safetensors') throw new UsageError(`--load-format ${format} needs a file, not a folder`);
    const ggufs = fs.existsSync(path.join(spec, 'config.json')) ? [] : fs.readdirSync(spec).filter((f) => f.endsWith('.gguf'));
    if (ggufs.length === 1) return loadUnquantized(path.join(spec, ggufs[0]!), opts);
    return loadHfFolder(spec, opts);
  }
  const kind = format !== 'auto' ? format : spec.endsWith('.gguf') || sniffGguf(spec) ? 'gguf' : spec.endsWith('.bin') ? 'llama2c' : null;
  if (kind === 'gguf') return loadGguf(spec, opts);
  if (kind === 'llama2c') return loadLlama2cFile(spec, opts);
  throw new ModelLoadError(spec, 'unrecognized model file (expected a .gguf file, a llama2.c .bin, or a Hugging Face folder)');
}

function sniffGguf(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    return fs.readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === 'GGUF';
  } finally {
    fs.closeSync(fd);
  }
}

function overrideTokenizer(spec: string | undefined, config: ModelConfig): Tokenizer | null {
  if (!spec) return null;
  if (fs.existsSync(spec) && fs.statSync(spec).isDirectory()) {
    const t = loadHfTokenizer(spec, config.eosTokenIds);
    if (!t) throw new ModelLoadError(spec, 'no tokenizer.json in this folder');
    return t;
  }
  if (spec.endsWith('.json')) return loadHfTokenizer(path.dirname(spec), config.eosTokenIds);
  return loadLlama2cTokenizer(spec, config.vocabSize);
}

function loadHfFolder(dir: string, opts: LoadOptions): LoadedModel {
  const config = readHfConfig(dir);
  const genFile = path.join(dir, 'generation_config.json');
  const gen = fs.existsSync(genFile) ? readJsonFile(genFile) : {};
  const genEos = gen['eos_token_id'];
  if (typeof genEos === 'number' || Array.isArray(genEos)) {
    config.eosTokenIds = [...new Set([...config.eosTokenIds, ...([genEos].flat() as number[])])];
  }
  const weights = loadHfWeights(dir, config);
  const tokenizer = overrideTokenizer(opts.tokenizer, config) ?? loadHfTokenizer(dir, config.eosTokenIds);
  const pooling = hfPooling(dir, readJsonFile(path.join(dir, 'config.json')));
  return { config, weights, tokenizer, generationDefaults: generationDefaults(gen), pooling, source: dir, format: 'safetensors' };
}

/**
 * generation_config.json as transformers reads it: do_sample false means greedy, whatever
 * temperature it also lists.
 */
function generationDefaults(gen: Record<string, unknown>): GenerationDefaults {
  const out: GenerationDefaults = {};
  const n = (k: string) => (typeof gen[k] === 'number' ? (gen[k] as number) : undefined);
  if (gen['do_sample'] === false) out.temperature = 0;
  else if (n('temperature') !== undefined) out.temperature = n('temperature')!;
  if (n('top_p') !== undefined) out.topP = n('top_p')!;
  if (n('top_k') !== undefined) out.topK = n('top_k')!;
  if (n('min_p') !== undefined) out.minP = n('min_p')!;
  if (n('repetition_penalty') !== undefined) out.repetitionPenalty = n('repetition_penalty')!;
  return out;
}

function loadGguf(file: string, opts: LoadOptions): LoadedModel {
  const g = GgufFile.open(file);
  try {
    const config = ggufConfig(g);
    const weights = ggufWeights(config, g);
    const tokenizer = overrideTokenizer(opts.tokenizer, config) ?? ggufTokenizer(g);
    return { config, weights, tokenizer, generationDefaults: {}, pooling: ggufPooling(g), source: file, format: 'gguf' };
  } finally {
    g.close();
  }
}

function loadLlama2cFile(file: string, opts: LoadOptions): LoadedModel {
  const { config, weights } = loadLlama2c(file);
  const beside = path.join(path.dirname(file), 'tokenizer.bin');
  const tokenizer = overrideTokenizer(opts.tokenizer, config) ?? (fs.existsSync(beside) ? loadLlama2cTokenizer(beside, config.vocabSize) : null);
  return { config, weights, tokenizer, generationDefaults: {}, pooling: DEFAULT_POOLING, source: file, format: 'llama2c' };
}

function loadDummy(preset: string): LoadedModel {
  const config = presetConfig(preset);
  return {
    config, weights: dummyWeights(config), tokenizer: byteTokenizer(config.vocabSize),
    generationDefaults: {}, pooling: DEFAULT_POOLING, source: `preset ${preset} (random weights)`, format: 'dummy',
  };
}
