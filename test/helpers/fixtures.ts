// Where the shared golden fixtures live: ../shared/fixtures beside the repository (TSLLM_FIXTURES overrides).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/test/helpers/. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const FIXTURES = process.env['TSLLM_FIXTURES'] ?? path.resolve(REPO_ROOT, '..', 'shared', 'fixtures');
export const SHARED_TOOLS = path.resolve(FIXTURES, '..', 'tools');

export const MODEL_FIXTURES = [
  'llama-gqa', 'llama31-tied-rope-llama3', 'mistral-swa16', 'qwen2-bias', 'qwen3-qknorm',
  'mixtral-moe', 'qwen2moe', 'qwen3moe', 'gpt2', 'gemma2', 'gemma3', 'phi3', 'gpt-oss', 'deepseek-v3',
] as const;

export function modelDir(name: string): string {
  return path.join(FIXTURES, 'models', name);
}

export function readJson<T = any>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

export interface ModelGolden {
  prompts: {
    name: string;
    input_ids: number[];
    last_logits: number[];
    all_logits?: number[][];
    greedy_new_tokens: number[];
    greedy_steps: { token: number; top5: [number, number][] }[];
  }[];
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
