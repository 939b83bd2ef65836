// Loads a tokenizer from the files of a Hugging Face folder.

import fs from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../loaders/hf-folder.js';
import { Tokenizer } from './tokenizer.js';

/** null when the folder has no tokenizer.json. */
export function loadHfTokenizer(dir: string, eosTokenIds?: number[]): Tokenizer | null {
  const file = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(file)) return null;
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = fs.existsSync(configFile) ? readJsonFile(configFile) : null;
  return new Tokenizer(readJsonFile(file), { config, eosTokenIds });
}
