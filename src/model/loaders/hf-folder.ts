// A Hugging Face model folder: config.json, model.safetensors or a sharded set behind
// model.safetensors.index.json, and the tokenizer and generation config beside them.

import fs from 'node:fs';
import path from 'node:path';
import { configFromHf, validateConfig, type ModelConfig } from '../config.js';
import { ModelLoadError } from '../../util/errors.js';
import type { ModelWeights } from '../weights.js';
import { assembleHfWeights } from './hf-weights.js';
import { SafetensorsFile, SafetensorsSource } from './safetensors.js';

export function readJsonFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ModelLoadError(file, `cannot read: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new ModelLoadError(file, 'not a valid JSON object');
  }
}

export function readHfConfig(dir: string): ModelConfig {
  const file = path.join(dir, 'config.json');
  const config = configFromHf(readJsonFile(file), file);
  validateConfig(config, file);
  return config;
}

export function safetensorsFiles(dir: string): string[] {
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(single)) return [single];
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(indexFile)) {
    const index = readJsonFile(indexFile);
    const map = index['weight_map'];
    if (!map || typeof map !== 'object') throw new ModelLoadError(indexFile, 'missing "weight_map"');
    const shards = [...new Set(Object.values(map as Record<string, string>))];
    return shards.map((s) => {
      const f = path.join(dir, s);
      if (!fs.existsSync(f)) throw new ModelLoadError(f, 'shard listed in model.safetensors.index.json is missing');
      return f;
    });
  }
  throw new ModelLoadError(dir, 'no model.safetensors or model.safetensors.index.json in this folder');
}

export function loadHfWeights(dir: string, config: ModelConfig): ModelWeights {
  const source = new SafetensorsSource(safetensorsFiles(dir).map((f) => SafetensorsFile.open(f)));
  try {
    return assembleHfWeights(config, source);
  } finally {
    source.close();
  }
}
