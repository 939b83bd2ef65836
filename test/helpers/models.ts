// Models the tests share, loaded once per test file.

import path from 'node:path';
import { CausalLM } from '../../src/model/architectures/decoder.js';
import { loadModel, type LoadedModel } from '../../src/model/load-model.js';
import { ReferenceBackend } from '../../src/kernels/reference/reference-backend.js';
import { FIXTURES, modelDir } from './fixtures.js';

export async function loadStories(): Promise<LoadedModel & { model: CausalLM }> {
  const loaded = await loadModel(modelDir('stories260K'), { tokenizer: path.join(FIXTURES, 'tokenizers', 'tok512') });
  return { ...loaded, model: new CausalLM(loaded.config, loaded.weights, new ReferenceBackend()) };
}
