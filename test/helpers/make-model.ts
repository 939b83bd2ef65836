// Runs ../shared/tools/make-model.mjs (seeded random Llama weights in GGUF and HF layout) into a
// temporary folder.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHARED_TOOLS } from './fixtures.js';

export function makeModel(args: string[]): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsllm-model-'));
  execFileSync(process.execPath, [path.join(SHARED_TOOLS, 'make-model.mjs'), '--out', out, ...args], { stdio: 'pipe' });
  return out;
}

export function tempDir(prefix = 'tsllm-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
