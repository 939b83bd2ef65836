// gpt-oss's experts, from either checkpoint form: unquantized (transformers' layout, x @ W) or MXFP4
// as OpenAI ships them (`*_blocks` [E, out, in / 32, 16] of FP4 E2M1 codes and `*_scales` [E, out,
// in / 32] of E8M0 exponents). Either way gate and up are interleaved along the output (gate even,
// up odd), and each expert becomes [out, in] matrices of its own; MXFP4 stays MXFP4, re-laid as
// ggml's block_mxfp4 (so GGUF files and checkpoints share one kernel).

import { ModelLoadError } from '../../util/errors.js';
import { toFloat32, weightFromF32, type WeightTensor } from '../../kernels/tensor.js';
import type { MlpWeights } from '../weights.js';
import { expectTensor, type TensorSource } from './tensor-source.js';

export function gptOssExperts(src: TensorSource, p: string, E: number, H: number, I: number): MlpWeights[] {
  if (src.has(`${p}.gate_up_proj_blocks`)) return mxfp4Experts(src, p, E, H, I);
  const gu = toFloat32(expectTensor(src, `${p}.gate_up_proj`, [E, H, 2 * I]));
  const down = toFloat32(expectTensor(src, `${p}.down_proj`, [E, I, H]));
  const { guBias, downBias } = biases(src, p, E, H, I);
  return Array.from({ length: E }, (_, e) => {
    const gate = new Float32Array(I * H), up = new Float32Array(I * H), downT = new Float32Array(H * I);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < I; i++) {
        gate[i * H + h] = gu[(e * H + h) * 2 * I + 2 * i]!;
        up[i * H + h] = gu[(e * H + h) * 2 * I + 2 * i + 1]!;
        downT[h * I + i] = down[(e * I + i) * H + h]!;
      }
    }
    return { gate: weightFromF32(gate, [I, H]), up: weightFromF32(up, [I, H]), down: weightFromF32(downT, [H, I]), ...expertBiases(guBias, downBias, e, H, I) };
  });
}

function biases(src: TensorSource, p: string, E: number, H: number, I: number): { guBias: Float32Array; downBias: Float32Array } {
  return {
    guBias: toFloat32(expectTensor(src, `${p}.gate_up_proj_bias`, [E, 2 * I])),
    downBias: toFloat32(expectTensor(src, `${p}.down_proj_bias`, [E, H])),
  };
}

function expertBiases(guBias: Float32Array, downBias: Float32Array, e: number, H: number, I: number): Pick<MlpWeights, 'gateBias' | 'upBias' | 'downBias'> {
  const bias = guBias.subarray(e * 2 * I, (e + 1) * 2 * I);
  return { gateBias: bias.filter((_, k) => k % 2 === 0), upBias: bias.filter((_, k) => k % 2 === 1), downBias: downBias.slice(e * H, (e + 1) * H) };
}

function mxfp4Experts(src: TensorSource, p: string, E: number, H: number, I: number): MlpWeights[] {
  const raw = (name: string, shape: number[]): Uint8Array => {
    if (!src.bytes) throw new ModelLoadError(src.fileOf(`${p}.${name}`), `cannot read "${p}.${name}" as packed bytes`);
    const t = src.bytes(`${p}.${name}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(src.fileOf(`${p}.${name}`), `tensor "${p}.${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return t.data;
  };
  if (H % 32 !== 0 || I % 32 !== 0) throw new ModelLoadError(src.fileOf(`${p}.gate_up_proj_blocks`), `MXFP4 experts need hidden (${H}) and intermediate (${I}) sizes in whole blocks of 32`);
  const guBlocks = raw('gate_up_proj_blocks', [E, 2 * I, H / 32, 16]), guScales = raw('gate_up_proj_scales', [E, 2 * I, H / 32]);
  const downBlocks = raw('down_proj_blocks', [E, H, I / 32, 16]), downScales = raw('down_proj_scales', [E, H, I / 32]);
  const { guBias, downBias } = biases(src, p, E, H, I);
  return Array.from({ length: E }, (_, e) => ({
    gate: ggmlMxfp4(guBlocks, guScales, e * 2 * I, 2, I, H),
    up: ggmlMxfp4(guBlocks, guScales, e * 2 * I + 1, 2, I, H),
    down: ggmlMxfp4(downBlocks, downScales, e * H, 1, H, I),
    ...expertBiases(guBias, downBias, e, H, I),
  }));
}

// Rows first, first + step, ... (`rows` of them, each `cols` wide) as ggml's block_mxfp4: the
// exponent, then element j in the low nibble of byte j and j + 16 in the high one (the checkpoint
// packs elements 2j and 2j + 1 into byte j instead).
function ggmlMxfp4(blocks: Uint8Array, scales: Uint8Array, first: number, step: number, rows: number, cols: number): WeightTensor {
  const nb = cols / 32;
  const out = new Uint8Array(rows * nb * 17);
  for (let r = 0; r < rows; r++) {
    const row = first + r * step;
    for (let b = 0; b < nb; b++) {
      const src = (row * nb + b) * 16, dst = (r * nb + b) * 17;
      out[dst] = scales[row * nb + b]!;
      const code = (i: number) => (i & 1 ? blocks[src + (i >> 1)]! >> 4 : blocks[src + (i >> 1)]! & 15);
      for (let j = 0; j < 16; j++) out[dst + 1 + j] = code(j) | (code(j + 16) << 4);
    }
  }
  return { dtype: 'mxfp4', shape: [rows, cols], data: out };
}
