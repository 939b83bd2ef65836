// How a model's embeddings are pooled from its final hidden states, as the model itself says: a
// sentence-transformers folder in modules.json and its Pooling module's config, a GGUF in
// {arch}.pooling_type. A model that says nothing is pooled as vLLM pools decoder models: the last
// token's state, L2-normalized.

import fs from 'node:fs';
import path from 'node:path';
import { ModelLoadError } from '../util/errors.js';
import type { GgufFile } from './loaders/gguf.js';
import { readJsonFile } from './loaders/hf-folder.js';

export const POOLING_TYPES = ['last', 'mean', 'cls'] as const;
export type PoolingType = (typeof POOLING_TYPES)[number];

export interface ModelPooling {
  type: PoolingType;
  normalize: boolean;
  /**
   * Matryoshka: the sizes an embedding may be cut to (`dimensions`); [] = any size, null = the model
   * was not trained for it.
   */
  matryoshka: number[] | null;
}

export const DEFAULT_POOLING: ModelPooling = { type: 'last', normalize: true, matryoshka: null };

// sentence-transformers' Pooling config flags, in the order it checks them.
const ST_MODES: [string, PoolingType][] = [['pooling_mode_cls_token', 'cls'], ['pooling_mode_mean_tokens', 'mean'], ['pooling_mode_lasttoken', 'last']];
const ST_UNSUPPORTED = ['pooling_mode_max_tokens', 'pooling_mode_mean_sqrt_len_tokens', 'pooling_mode_weightedmean_tokens'];

/** A Hugging Face folder's pooling: sentence-transformers modules if present, Matryoshka from config.json. */
export function hfPooling(dir: string, hfConfig: Record<string, unknown>): ModelPooling {
  const dims = hfConfig['matryoshka_dimensions'];
  const matryoshka = Array.isArray(dims) && dims.every((d) => Number.isInteger(d) && d > 0) ? (dims as number[]) : hfConfig['is_matryoshka'] === true ? [] : null;
  const modulesFile = path.join(dir, 'modules.json');
  if (!fs.existsSync(modulesFile)) return { ...DEFAULT_POOLING, matryoshka };
  const modules = JSON.parse(fs.readFileSync(modulesFile, 'utf8')) as unknown;
  if (!Array.isArray(modules)) throw new ModelLoadError(modulesFile, 'not a JSON list of modules');
  const typeOf = (m: unknown) => (m && typeof m === 'object' && typeof (m as { type?: unknown }).type === 'string' ? (m as { type: string }).type : '');
  const normalize = modules.some((m) => typeOf(m).endsWith('.Normalize'));
  const poolingModule = modules.find((m) => typeOf(m).endsWith('.Pooling')) as { path?: unknown } | undefined;
  if (!poolingModule || typeof poolingModule.path !== 'string') return { type: DEFAULT_POOLING.type, normalize, matryoshka };
  const file = path.join(dir, poolingModule.path, 'config.json');
  const st = readJsonFile(file);
  const bad = ST_UNSUPPORTED.find((k) => st[k] === true);
  if (bad) throw new ModelLoadError(file, `${bad} is not supported (tsllm pools by the CLS token, the mean, or the last token)`);
  const mode = ST_MODES.find(([k]) => st[k] === true);
  if (!mode) throw new ModelLoadError(file, `no pooling mode is set (expected one of ${ST_MODES.map(([k]) => k).join(', ')})`);
  return { type: mode[1], normalize, matryoshka };
}

// llama.cpp's enum llama_pooling_type.
const GGUF_POOLING: Record<number, PoolingType> = { 1: 'mean', 2: 'cls', 3: 'last' };

/** A GGUF's {arch}.pooling_type (llama.cpp normalizes embeddings by default, and so do we). */
export function ggufPooling(g: GgufFile): ModelPooling {
  const v = g.meta(`${String(g.meta('general.architecture'))}.pooling_type`);
  const code = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
  return { ...DEFAULT_POOLING, type: GGUF_POOLING[code] ?? DEFAULT_POOLING.type };
}
