// A tiny random Llama (2 layers, hidden 32) that carries a real tokenizer and its chat template, so
// that the tool-calling and reasoning paths run through Qwen3's or Llama 3's real template and
// vocabulary in a fraction of a second. Its vocabulary is the tokenizer's; its weights are seeded noise.

import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../../src/util/rng.js';
import { FIXTURES } from './fixtures.js';
import { tempDir } from './make-model.js';
import { writeSafetensors, type SafetensorsTensor } from './safetensors-writer.js';

export function tinyChatModel(tokenizer: 'qwen3' | 'llama3' | 'deepseek-v3' | 'gpt-oss', seed = 1): string {
  const src = path.join(FIXTURES, 'tokenizers', tokenizer);
  const json = JSON.parse(fs.readFileSync(path.join(src, 'tokenizer.json'), 'utf8'));
  const ids = [...Object.values(json.model.vocab as Record<string, number>), ...json.added_tokens.map((t: { id: number }) => t.id)];
  const vocab = ids.reduce((a, b) => Math.max(a, b), 0) + 1;
  const hidden = 32, ffn = 64, layers = 2, heads = 4, kvHeads = 2, headDim = hidden / heads;
  const rng = new Rng(seed);
  const tensors = new Map<string, SafetensorsTensor>();
  const add = (name: string, shape: number[], ones = false) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = ones ? 1 : (rng.next() - 0.5) * 0.2;
    tensors.set(name, { dtype: 'F32', shape, data: new Uint8Array(data.buffer) });
  };
  add('model.embed_tokens.weight', [vocab, hidden]);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [hidden], true);
    add(`${p}.post_attention_layernorm.weight`, [hidden], true);
    add(`${p}.self_attn.q_proj.weight`, [heads * headDim, hidden]);
    add(`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, hidden]);
    add(`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, hidden]);
    add(`${p}.self_attn.o_proj.weight`, [hidden, heads * headDim]);
    add(`${p}.mlp.gate_proj.weight`, [ffn, hidden]);
    add(`${p}.mlp.up_proj.weight`, [ffn, hidden]);
    add(`${p}.mlp.down_proj.weight`, [hidden, ffn]);
  }
  add('model.norm.weight', [hidden], true);
  const dir = tempDir(`tsllm-${tokenizer}-tiny-`);
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: vocab, hidden_size: hidden, intermediate_size: ffn,
    num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: kvHeads, max_position_embeddings: 4096,
    rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, torch_dtype: 'float32',
  }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja']) if (fs.existsSync(path.join(src, f))) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  return dir;
}
