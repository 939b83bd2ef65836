// The llama-gqa fixture dressed as a sentence-transformers embedding model: its weights (linked), the
// 512-token tok512 tokenizer (the fixture's vocabulary size), modules.json with a Pooling module (and
// Normalize when asked), and Matryoshka sizes in config.json when given.

import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, modelDir, readJson } from './fixtures.js';
import { tempDir } from './make-model.js';

export interface EmbeddingModelSpec {
  mode: 'pooling_mode_mean_tokens' | 'pooling_mode_cls_token' | 'pooling_mode_lasttoken' | 'pooling_mode_max_tokens';
  normalize: boolean;
  matryoshka?: number[];
}

export function embeddingModel(spec: EmbeddingModelSpec): string {
  const src = modelDir('llama-gqa');
  const dir = tempDir('tsllm-embedding-model-');
  const config = readJson(path.join(src, 'config.json'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, ...(spec.matryoshka ? { matryoshka_dimensions: spec.matryoshka } : {}) }));
  fs.symlinkSync(path.join(src, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(FIXTURES, 'tokenizers', 'tok512', f), path.join(dir, f));
  const modules = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    ...(spec.normalize ? [{ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' }] : []),
  ];
  fs.writeFileSync(path.join(dir, 'modules.json'), JSON.stringify(modules));
  fs.mkdirSync(path.join(dir, '1_Pooling'));
  fs.writeFileSync(path.join(dir, '1_Pooling', 'config.json'), JSON.stringify({ word_embedding_dimension: config.hidden_size, [spec.mode]: true }));
  return dir;
}
