// The gguf-quants fixtures (../shared/fixtures/gguf-quants): a tiny Llama quantized by llama.cpp's
// llama-quantize into each type, with goldens (see that folder's README).

import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, readJson } from './fixtures.js';

export const QUANT_FIXTURES = path.join(FIXTURES, 'gguf-quants');

export interface QuantGolden {
  tensors: { name: string; ggml_type: string; shape: number[]; sha256_f32: string; samples: [number, number][] }[];
  tensor_types: Record<string, string>;
  prompts: { name: string; input_ids: number[]; last_logits: number[]; greedy_new_tokens: number[]; greedy_steps: { token: number; top5: [number, number][]; top1_top2_logit_margin: number }[] }[];
  llama_cpp: {
    max_abs_dlogit_teacher_forced_all_prompts: number;
    kv_f32: { name: string; last_logits: number[]; max_abs_dlogit_teacher_forced_16_steps: number }[];
  };
}

export interface QuantFile {
  model: 'llama256' | 'llama192';
  type: string;
  file: string;
  golden: QuantGolden;
}

/** Every quantized file (and the F32 one) of both models. */
export function quantFiles(): QuantFile[] {
  const out: QuantFile[] = [];
  for (const model of ['llama256', 'llama192'] as const) {
    for (const type of fs.readdirSync(path.join(QUANT_FIXTURES, model)).sort()) {
      if (type === 'hf') continue;
      const dir = path.join(QUANT_FIXTURES, model, type);
      out.push({ model, type, file: path.join(dir, `${model}-${type}.gguf`), golden: readJson<QuantGolden>(path.join(dir, 'golden.json')) });
    }
  }
  return out;
}
