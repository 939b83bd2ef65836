// Kernel throughput at model sizes: matrix-vector GB/s of each weight format (one token, weights larger
// than the last-level cache, so memory speed shows) and matrix-matrix GFLOP/s (a 512-token prefill
// through a TinyLlama-sized MLP matrix).

import { NativeBackend } from '../kernels/native/native-backend.js';
import { byteSize, type WeightDType, type WeightTensor } from '../kernels/tensor.js';
import { WEIGHT_DTYPES } from '../kernels/formats.js';
import { Rng } from '../util/rng.js';
import { median } from './stats.js';

export const KERNEL_BENCH_FORMATS: WeightDType[] = [...WEIGHT_DTYPES];

export interface KernelBenchRow {
  dtype: WeightDType;
  matvecGBps: number;
  matmulGflops: number;
}

// 64 random rows quantized (the K-quants' scale searches run in TypeScript), repeated to n rows: the
// kernels' speed does not depend on the values, and memory traffic is the same.
function randomWeight(be: NativeBackend, dtype: WeightDType, n: number, k: number, rng: Rng): WeightTensor {
  const data = new Uint8Array(byteSize(dtype, n * k));
  const tile = 64;
  const src = Float32Array.from({ length: tile * k }, () => (rng.next() - 0.5) * 0.05);
  const tileBytes = byteSize(dtype, tile * k);
  be.quantizeRows(data.subarray(0, tileBytes), dtype, src, tile, k);
  for (let off = tileBytes; off < data.length; off += tileBytes) data.copyWithin(off, 0, Math.min(tileBytes, data.length - off));
  return { dtype, shape: [n, k], data };
}

/** The machine's read bandwidth over all of the backend's threads (GB/s): a 512 MB buffer streamed once, median of 7. */
export function readBandwidth(be: NativeBackend): number {
  return new ReadBandwidthProbe(be).measure();
}

/** readBandwidth again and again on one buffer: the roofline measured between a benchmark's iterations. */
export class ReadBandwidthProbe {
  private readonly buf = new Uint8Array(512 << 20);

  constructor(private readonly be: NativeBackend) {
    for (let i = 0; i < this.buf.length; i += 4096) this.buf[i] = i & 255;
    be.kernels.streamRead(this.buf);
  }

  measure(): number {
    return this.buf.length / time(() => this.be.kernels.streamRead(this.buf), 7) / 1e9;
  }
}

function time(fn: () => void, reps: number): number {
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    samples.push((performance.now() - t) / 1000);
  }
  return median(samples);
}

export function benchKernels(be: NativeBackend, formats = KERNEL_BENCH_FORMATS, onRow?: (r: KernelBenchRow) => void): KernelBenchRow[] {
  const rng = new Rng(7);
  const k = 2048;
  const rows: KernelBenchRow[] = [];
  for (const dtype of formats) {
    // matrix-vector: ~512 MB of weights, far beyond the L3 cache.
    const n = Math.floor((512 << 20) / byteSize(dtype, k) / 64) * 64;
    const bigWeight = randomWeight(be, dtype, n, k, rng);
    const big = be.prepareWeight(bigWeight);
    const x1 = Float32Array.from({ length: k }, () => rng.next() - 0.5);
    const y1 = new Float32Array(n);
    be.matmul(y1, x1, big, 1);
    const mv = time(() => be.matmul(y1, x1, big, 1), 7);

    // matrix-matrix: 512 tokens x [5632, 2048] (TinyLlama's gate/up projection).
    const w = be.prepareWeight(randomWeight(be, dtype, 5632, k, rng));
    const m = 512;
    const x = Float32Array.from({ length: m * k }, () => rng.next() - 0.5);
    const y = new Float32Array(m * 5632);
    be.matmul(y, x, w, m);
    const mm = time(() => be.matmul(y, x, w, m), 3);

    const row = { dtype, matvecGBps: bigWeight.data.length / mv / 1e9, matmulGflops: (2 * m * 5632 * k) / mm / 1e9 };
    rows.push(row);
    onRow?.(row);
  }
  return rows;
}
