// Loads a tokenizer from the files of a Hugging Face folder.

import fs from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../loaders/hf-folder.js';
import { pickChatTemplate } from './chat-template.js';
import { Tokenizer } from './tokenizer.js';

/**
 * The folder's chat template where transformers finds it: chat_template.jinja, then
 * chat_template.json, over tokenizer_config.json's chat_template. undefined: neither file exists.
 */
function chatTemplateFile(dir: string): string | null | undefined {
  const jinja = path.join(dir, 'chat_template.jinja');
  if (fs.existsSync(jinja)) return fs.readFileSync(jinja, 'utf8');
  const json = path.join(dir, 'chat_template.json');
  if (fs.existsSync(json)) return pickChatTemplate(readJsonFile(json)['chat_template']);
  return undefined;
}

/** null when the folder has no tokenizer.json. */
export function loadHfTokenizer(dir: string, eosTokenIds?: number[]): Tokenizer | null {
  const file = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(file)) return null;
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = fs.existsSync(configFile) ? readJsonFile(configFile) : null;
  const chatTemplate = chatTemplateFile(dir);
  return new Tokenizer(readJsonFile(file), { config, eosTokenIds, ...(chatTemplate !== undefined ? { chatTemplate } : {}) });
}
