// xgrammar, the grammar engine vLLM and SGLang use, from its WebAssembly build (@mlc-ai/web-xgrammar).
// The package ships one UMD bundle that Node's ESM loader cannot import (it reaches for `require`),
// so it is evaluated here as the CommonJS module it also is, without touching any global.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import type * as XGrammar from '@mlc-ai/web-xgrammar';

export type XGrammarModule = typeof XGrammar;

let loaded: XGrammarModule | null = null;

export function xgrammar(): XGrammarModule {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const file = require.resolve('@mlc-ai/web-xgrammar');
  const module = { exports: {} as Record<string, unknown> };
  const factory = new Function('exports', 'module', 'require', '__filename', '__dirname', fs.readFileSync(file, 'utf8'));
  factory(module.exports, module, require, file, file.slice(0, file.lastIndexOf('/')));
  loaded = module.exports as unknown as XGrammarModule;
  return loaded;
}
