// What the weight assemblers need from a file format: named tensors, read on demand.

import { ModelLoadError } from '../../util/errors.js';
import { toFloat32, type WeightTensor } from '../../kernels/tensor.js';

export interface TensorSource {
  has(name: string): boolean;
  get(name: string): WeightTensor;
  /** The file a tensor lives in, for error messages. */
  fileOf(name: string): string;
  /** A tensor's raw bytes, whatever its dtype (safetensors' U8 packed data). */
  bytes?(name: string): { shape: number[]; data: Uint8Array };
}

/** Reads a tensor and checks its shape. */
export function expectTensor(src: TensorSource, name: string, shape: number[]): WeightTensor {
  const t = src.get(name);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ModelLoadError(src.fileOf(name), `tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

export function expectVector(src: TensorSource, name: string, length: number): Float32Array {
  return toFloat32(expectTensor(src, name, [length]));
}

/**
 * Swaps the two axes of a plain-float 2-D tensor: GPT-2's Conv1D stores [in, out], the decoder wants
 * [out, in].
 */
export function transpose2d(t: WeightTensor): WeightTensor {
  const [r, c] = t.shape as [number, number];
  const size = t.dtype === 'f32' ? 4 : t.dtype === 'f16' || t.dtype === 'bf16' ? 2 : 0;
  if (size === 0) throw new Error(`cannot transpose a ${t.dtype} tensor`);
  const out = new Uint8Array(new ArrayBuffer(t.data.length));
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      const src = (i * c + j) * size;
      const dst = (j * r + i) * size;
      for (let b = 0; b < size; b++) out[dst + b] = t.data[src + b]!;
    }
  }
  return { dtype: t.dtype, shape: [c, r], data: out };
}

/** Rows [from, to) of a 2-D tensor, sharing its memory. */
export function rowSlice(t: WeightTensor, from: number, to: number): WeightTensor {
  const rowBytes = t.data.length / t.shape[0]!;
  return { dtype: t.dtype, shape: [to - from, t.shape[1]!], data: t.data.subarray(from * rowBytes, to * rowBytes) };
}
