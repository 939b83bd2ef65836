// The deepseek-v3 fixture as llama.cpp's converter writes a `deepseek2` GGUF: its tensor names,
// experts stacked [E, rows, cols], the router's correction bias as exp_probs_b.bias, and the MLA,
// MoE and YaRN metadata keys. `splitKvB` writes kv_b as newer converters do: attn_k_b [heads, rank,
// nope] (each head's key block transposed) and attn_v_b [heads, v, rank].

import fs from 'node:fs';
import path from 'node:path';
import { SafetensorsFile } from '../../src/model/loaders/safetensors.js';
import { toFloat32 } from '../../src/kernels/tensor.js';
import { modelDir } from './fixtures.js';
import { writeGguf, type GgufTensor, type MetaValue } from './gguf-writer.js';

export function deepseekAsGguf(file: string, opts: { splitKvB?: boolean } = {}): void {
  const dir = modelDir('deepseek-v3');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const st = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  const t = (n: string) => toFloat32(st.read(n));
  const shape = (n: string) => [...st.read(n).shape];
  const tensors: GgufTensor[] = [];
  const put = (gguf: string, hf: string) => tensors.push({ name: gguf, shape: shape(hf), data: t(hf) });
  const stack = (gguf: string, hf: (e: number) => string) => {
    const parts = Array.from({ length: cfg.n_routed_experts }, (_, e) => t(hf(e)));
    const data = new Float32Array(parts.reduce((s, x) => s + x.length, 0));
    parts.forEach((x, e) => data.set(x, e * x.length));
    tensors.push({ name: gguf, shape: [cfg.n_routed_experts, ...shape(hf(0))], data });
  };
  put('token_embd.weight', 'model.embed_tokens.weight');
  put('output_norm.weight', 'model.norm.weight');
  put('output.weight', 'lm_head.weight');
  const [heads, rank, nope, v] = [cfg.num_attention_heads, cfg.kv_lora_rank, cfg.qk_nope_head_dim, cfg.v_head_dim];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`, b = `blk.${l}.`;
    put(b + 'attn_norm.weight', p + 'input_layernorm.weight');
    put(b + 'ffn_norm.weight', p + 'post_attention_layernorm.weight');
    put(b + 'attn_q_a.weight', p + 'self_attn.q_a_proj.weight');
    put(b + 'attn_q_a_norm.weight', p + 'self_attn.q_a_layernorm.weight');
    put(b + 'attn_q_b.weight', p + 'self_attn.q_b_proj.weight');
    put(b + 'attn_kv_a_mqa.weight', p + 'self_attn.kv_a_proj_with_mqa.weight');
    put(b + 'attn_kv_a_norm.weight', p + 'self_attn.kv_a_layernorm.weight');
    put(b + 'attn_output.weight', p + 'self_attn.o_proj.weight');
    if (opts.splitKvB) {
      const kvb = t(p + 'self_attn.kv_b_proj.weight');
      const kb = new Float32Array(heads * rank * nope), vb = new Float32Array(heads * v * rank);
      for (let h = 0; h < heads; h++) {
        const base = h * (nope + v) * rank;
        for (let d = 0; d < nope; d++) for (let r = 0; r < rank; r++) kb[(h * rank + r) * nope + d] = kvb[base + d * rank + r]!;
        vb.set(kvb.subarray(base + nope * rank, base + (nope + v) * rank), h * v * rank);
      }
      tensors.push({ name: b + 'attn_k_b.weight', shape: [heads, rank, nope], data: kb }, { name: b + 'attn_v_b.weight', shape: [heads, v, rank], data: vb });
    } else {
      put(b + 'attn_kv_b.weight', p + 'self_attn.kv_b_proj.weight');
    }
    if (l < cfg.first_k_dense_replace) {
      for (const x of ['gate', 'up', 'down']) put(`${b}ffn_${x}.weight`, `${p}mlp.${x}_proj.weight`);
    } else {
      put(b + 'ffn_gate_inp.weight', p + 'mlp.gate.weight');
      put(b + 'exp_probs_b.bias', p + 'mlp.gate.e_score_correction_bias');
      for (const x of ['gate', 'up', 'down']) {
        stack(`${b}ffn_${x}_exps.weight`, (e) => `${p}mlp.experts.${e}.${x}_proj.weight`);
        put(`${b}ffn_${x}_shexp.weight`, `${p}mlp.shared_experts.${x}_proj.weight`);
      }
    }
  }
  st.close();
  const a = 'deepseek2';
  const rs = cfg.rope_scaling;
  const meta: [string, MetaValue][] = [
    ['general.architecture', { str: a }],
    [`${a}.context_length`, { u32: cfg.max_position_embeddings }],
    [`${a}.embedding_length`, { u32: cfg.hidden_size }],
    [`${a}.block_count`, { u32: cfg.num_hidden_layers }],
    [`${a}.feed_forward_length`, { u32: cfg.intermediate_size }],
    [`${a}.attention.head_count`, { u32: heads }],
    [`${a}.attention.head_count_kv`, { u32: cfg.num_key_value_heads }],
    [`${a}.attention.layer_norm_rms_epsilon`, { f32: cfg.rms_norm_eps }],
    [`${a}.rope.freq_base`, { f32: cfg.rope_theta }],
    [`${a}.rope.dimension_count`, { u32: cfg.qk_rope_head_dim }],
    [`${a}.attention.q_lora_rank`, { u32: cfg.q_lora_rank }],
    [`${a}.attention.kv_lora_rank`, { u32: rank }],
    [`${a}.attention.key_length`, { u32: nope + cfg.qk_rope_head_dim }],
    [`${a}.attention.value_length`, { u32: v }],
    [`${a}.leading_dense_block_count`, { u32: cfg.first_k_dense_replace }],
    [`${a}.expert_feed_forward_length`, { u32: cfg.moe_intermediate_size }],
    [`${a}.expert_count`, { u32: cfg.n_routed_experts }],
    [`${a}.expert_used_count`, { u32: cfg.num_experts_per_tok }],
    [`${a}.expert_shared_count`, { u32: cfg.n_shared_experts }],
    [`${a}.expert_weights_scale`, { f32: cfg.routed_scaling_factor }],
    [`${a}.expert_weights_norm`, { bool: cfg.norm_topk_prob }],
    [`${a}.expert_gating_func`, { u32: 2 }],
    [`${a}.expert_group_count`, { u32: cfg.n_group }],
    [`${a}.expert_group_used_count`, { u32: cfg.topk_group }],
    [`${a}.rope.scaling.type`, { str: 'yarn' }],
    [`${a}.rope.scaling.factor`, { f32: rs.factor }],
    [`${a}.rope.scaling.original_context_length`, { u32: rs.original_max_position_embeddings }],
    [`${a}.rope.scaling.yarn_log_multiplier`, { f32: 0.1 * rs.mscale_all_dim }],
  ];
  writeGguf(file, meta, tensors);
}
