// `tsllm quantize`: a GGUF or Hugging Face model in float formats to a GGUF of one of llama.cpp's types
// (tensor-types.ts picks each tensor's), read, quantized and written a tensor at a time through a
// temporary file, so a failure never leaves a partial output behind.

import fs from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { WEIGHT_FORMATS, type WeightDType } from '../../kernels/formats.js';
import { numel } from '../../kernels/tensor.js';
import { convertWeight } from '../../kernels/quantize.js';
import { GGUF_TYPE, GgufWriter } from '../loaders/gguf-writer.js';
import { openQuantizeSource } from './quantize-source.js';
import { QUANT_TYPES, tensorType, type QuantTypeName } from './tensor-types.js';

export interface QuantizedTensor {
  name: string;
  shape: number[];
  from: WeightDType;
  to: WeightDType;
}

export interface QuantizeReport {
  tensors: QuantizedTensor[];
  bytesIn: number;
  bytesOut: number;
}

export interface QuantizeOptions {
  type: QuantTypeName;
  /** After each tensor: how many are written, of how many elements in all. */
  onProgress?: (doneElements: number, totalElements: number, tensor: string) => void;
}

const FLOAT: readonly WeightDType[] = ['f32', 'f16', 'bf16'];

export function quantizeModel(input: string, output: string, opts: QuantizeOptions): QuantizeReport {
  const src = openQuantizeSource(input);
  const tmp = `${output}.tmp-${process.pid}`;
  try {
    // llama.cpp's order: tensors outside the blocks first, then block by block, by name within each.
    const layer = (name: string): number => Number(/^blk\.(\d+)\./.exec(name)?.[1] ?? -1);
    const tensors = [...src.tensors].sort((a, b) => layer(a.name) - layer(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const plan: QuantizedTensor[] = tensors.map((t) => {
      const stored = t.dtype;
      const to = tensorType(opts.type, t.name, t.shape, src.shape) ?? stored;
      const rowLength = t.shape[t.shape.length - 1] ?? 0;
      if (rowLength % WEIGHT_FORMATS[to].blockSize !== 0) {
        throw new UsageError(`tensor "${t.name}" has rows of ${rowLength} elements, not a multiple of ${to.toUpperCase()}'s block of ${WEIGHT_FORMATS[to].blockSize} (llama.cpp refuses it too)`);
      }
      if (to !== stored && !FLOAT.includes(stored)) {
        throw new UsageError(`tensor "${t.name}" is already ${stored.toUpperCase()}; quantize from F32, F16 or BF16 weights`);
      }
      return { name: t.name, shape: t.shape, from: stored, to };
    });
    const metadata = [
      ...src.metadata,
      { key: 'general.quantization_version', type: GGUF_TYPE.u32, value: 2 },
      { key: 'general.file_type', type: GGUF_TYPE.u32, value: QUANT_TYPES[opts.type].fileType },
    ];
    const writer = new GgufWriter(tmp, metadata, plan.map((p) => ({ name: p.name, shape: p.shape, dtype: p.to })));
    const total = plan.reduce((s, p) => s + numel(p.shape), 0);
    let done = 0, bytesIn = 0, bytesOut = 0;
    for (const [i, p] of plan.entries()) {
      const w = tensors[i]!.read();
      bytesIn += w.data.byteLength;
      const data = p.to === w.dtype ? w.data : convertWeight(w, p.to).data;
      bytesOut += data.byteLength;
      writer.write(data);
      done += numel(p.shape);
      opts.onProgress?.(done, total, p.name);
    }
    writer.close();
    fs.renameSync(tmp, output);
    return { tensors: plan, bytesIn, bytesOut };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    src.close();
  }
}
