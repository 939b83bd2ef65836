// `tsllm quantize`: a GGUF or Hugging Face model in float formats to a GGUF of one of llama.cpp's types
// (tensor-types.ts picks each tensor's), read, quantized on worker threads a tensor at a time and
// written in order through a temporary file, so a failure never leaves a partial output behind.

import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { UsageError } from '../../util/errors.js';
import { WEIGHT_FORMATS, type WeightDType } from '../../kernels/formats.js';
import { numel, type WeightTensor } from '../../kernels/tensor.js';
import { GGUF_TYPE, GgufWriter } from '../loaders/gguf-writer.js';
import { openQuantizeSource, type QuantizeSource } from './quantize-source.js';
import { QUANT_TYPES, tensorType, type QuantTypeName } from './tensor-types.js';
import type { QuantizeJob } from './quantize-worker.js';

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
  /** Worker threads quantizing tensors side by side (default: the cores available). */
  threads?: number;
  /** After each tensor: how many are written, of how many elements in all. */
  onProgress?: (doneElements: number, totalElements: number, tensor: string) => void;
}

const FLOAT: readonly WeightDType[] = ['f32', 'f16', 'bf16'];

/** `input`: a path or preset:NAME (quantize-source.ts), or a source already opened. */
export async function quantizeModel(input: string | QuantizeSource, output: string, opts: QuantizeOptions): Promise<QuantizeReport> {
  const src = typeof input === 'string' ? openQuantizeSource(input) : input;
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
    const pool = new QuantizePool(opts.threads ?? os.availableParallelism());
    try {
      // Tensors go out in file order, a few per worker ahead, and are written in that order.
      const pending: Promise<Uint8Array>[] = [];
      let next = 0;
      const submit = () => {
        const i = next++;
        const w = tensors[i]!.read();
        bytesIn += w.data.byteLength;
        pending.push(plan[i]!.to === w.dtype ? Promise.resolve(w.data) : pool.convert(w, plan[i]!.to));
      };
      for (let i = 0; i < plan.length; i++) {
        while (next < plan.length && next <= i + 2 * pool.size) submit();
        const data = await pending[i]!;
        pending[i] = Promise.resolve(new Uint8Array(0));
        bytesOut += data.byteLength;
        writer.write(data);
        done += numel(plan[i]!.shape);
        opts.onProgress?.(done, total, plan[i]!.name);
      }
    } finally {
      await pool.close();
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

/** Worker threads running quantize-worker.ts, each job a tensor. */
class QuantizePool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (d: Uint8Array) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  constructor(readonly size: number) {
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      const w = new Worker(new URL('./quantize-worker.js', import.meta.url));
      w.on('message', (m: { id: number; data: Uint8Array }) => {
        this.waiting.get(m.id)?.resolve(m.data);
        this.waiting.delete(m.id);
      });
      w.on('error', (e) => {
        for (const job of this.waiting.values()) job.reject(e);
        this.waiting.clear();
      });
      return w;
    });
  }

  convert(w: WeightTensor, to: WeightDType): Promise<Uint8Array> {
    const id = this.nextId++;
    // Its own bytes only: a view into the mapped file would send the whole mapping.
    const data = w.data.slice();
    const job: QuantizeJob = { id, tensor: { dtype: w.dtype, shape: w.shape, data }, to };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.workers[id % this.workers.length]!.postMessage(job, [data.buffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
