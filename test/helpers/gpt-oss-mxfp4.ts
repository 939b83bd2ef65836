// The gpt-oss fixture as OpenAI ships gpt-oss checkpoints: experts in MXFP4 (`*_blocks` [E, out,
// in / 32, 16], two E2M1 codes a byte with element 2j in the low nibble, and `*_scales` [E, out,
// in / 32] of E8M0 exponents) beside float biases and every other tensor as it was; config.json
// gains the quantization_config transformers writes. The blocks come from the project's MXFP4
// quantizer (the spec's rule, tested on its own in kernels/quantize-mxfp4.test.ts).

import fs from 'node:fs';
import path from 'node:path';
import { SafetensorsFile } from '../../src/model/loaders/safetensors.js';
import { quantizeMxfp4Block } from '../../src/kernels/quantize-mxfp4.js';
import { toFloat32 } from '../../src/kernels/tensor.js';
import { modelDir } from './fixtures.js';
import { writeSafetensors, type SafetensorsTensor } from './safetensors-writer.js';

type Out = SafetensorsTensor;

// w [E, in, out] (x @ W) -> blocks [E, out, in / 32, 16] and scales [E, out, in / 32].
function mxfp4(w: Float32Array, E: number, inDim: number, outDim: number): { blocks: Out; scales: Out } {
  const nb = inDim / 32;
  const blocks = new Uint8Array(E * outDim * nb * 16), scales = new Uint8Array(E * outDim * nb);
  const x = new Float32Array(32), q = new Uint8Array(17);
  for (let e = 0; e < E; e++) for (let o = 0; o < outDim; o++) for (let b = 0; b < nb; b++) {
    for (let j = 0; j < 32; j++) x[j] = w[(e * inDim + 32 * b + j) * outDim + o]!;
    quantizeMxfp4Block(x, q, 0);
    const at = (e * outDim + o) * nb + b;
    scales[at] = q[0]!;
    const code = (i: number) => (i < 16 ? q[1 + i]! & 15 : q[1 + i - 16]! >> 4);
    for (let j = 0; j < 16; j++) blocks[at * 16 + j] = code(2 * j) | (code(2 * j + 1) << 4);
  }
  return { blocks: { dtype: 'U8', shape: [E, outDim, nb, 16], data: blocks }, scales: { dtype: 'U8', shape: [E, outDim, nb], data: scales } };
}

export function gptOssAsMxfp4(dir: string): void {
  const src = modelDir('gpt-oss');
  const cfg = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8'));
  const st = SafetensorsFile.open(path.join(src, 'model.safetensors'));
  const [E, H, I] = [cfg.num_local_experts, cfg.hidden_size, cfg.intermediate_size];
  const out = new Map<string, Out>();
  for (const name of st.entries.keys()) {
    const t = st.read(name);
    const f = toFloat32(t);
    if (name.endsWith('.experts.gate_up_proj') || name.endsWith('.experts.down_proj')) {
      const up = name.endsWith('gate_up_proj');
      const { blocks, scales } = mxfp4(f, E, up ? H : I, up ? 2 * I : H);
      out.set(`${name}_blocks`, blocks);
      out.set(`${name}_scales`, scales);
    } else {
      out.set(name, { dtype: 'F32', shape: [...t.shape], data: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) });
    }
  }
  st.close();
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'model.safetensors'), out);
  const quantization = { quant_method: 'mxfp4', modules_to_not_convert: ['model.layers.*.self_attn', 'model.layers.*.mlp.router', 'model.embed_tokens', 'lm_head'] };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, quantization_config: quantization }, null, 2));
}
