// safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the data. Tensors are read one at a time into their own buffers, so
// loading never holds the whole file and a converted copy at once.

import fs from 'node:fs';
import { ModelLoadError } from '../../util/errors.js';
import { mapReadOnly, openForRead, readExact } from './file-io.js';
import { numel, type WeightDType, type WeightTensor } from '../../kernels/tensor.js';
import type { TensorSource } from './tensor-source.js';

// U8 holds packed data a loader interprets itself (MXFP4 blocks and E8M0 scales), read with readBytes.
const DTYPES: Record<string, { dtype: WeightDType | 'u8'; bytes: number }> = {
  F32: { dtype: 'f32', bytes: 4 },
  F16: { dtype: 'f16', bytes: 2 },
  BF16: { dtype: 'bf16', bytes: 2 },
  U8: { dtype: 'u8', bytes: 1 },
};

interface Entry {
  dtype: WeightDType | 'u8';
  shape: number[];
  start: number;
  end: number;
}

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly entries: Map<string, Entry>,
    private readonly dataStart: number,
    private readonly mapped: ArrayBuffer | null,
  ) {}

  static open(path: string): SafetensorsFile {
    const fd = openForRead(path);
    try {
      const size = fs.fstatSync(fd).size;
      if (size < 8) throw new ModelLoadError(path, `not a safetensors file (only ${size} bytes)`);
      const lenBuf = Buffer.alloc(8);
      fs.readSync(fd, lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen <= 1 || 8 + headerLen > size) {
        throw new ModelLoadError(path, `corrupted or truncated safetensors header (declares ${headerLen} header bytes in a ${size}-byte file)`);
      }
      const headerBuf = Buffer.alloc(headerLen);
      fs.readSync(fd, headerBuf, 0, headerLen, 8);
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(headerBuf.toString('utf8')) as Record<string, unknown>;
      } catch {
        throw new ModelLoadError(path, 'corrupted safetensors header (not valid JSON)');
      }
      const dataStart = 8 + headerLen;
      const dataSize = size - dataStart;
      const entries = new Map<string, Entry>();
      for (const [name, raw] of Object.entries(header)) {
        if (name === '__metadata__') continue;
        const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
        if (typeof info?.dtype !== 'string' || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets) || info.data_offsets.length !== 2) {
          throw new ModelLoadError(path, `corrupted safetensors header entry for "${name}"`);
        }
        const kind = DTYPES[info.dtype];
        if (!kind) throw new ModelLoadError(path, `tensor "${name}" has unsupported dtype ${info.dtype} (supported: F32, F16, BF16, U8)`);
        const [start, end] = info.data_offsets;
        if (end - start !== numel(info.shape) * kind.bytes || start < 0 || end < start) {
          throw new ModelLoadError(path, `tensor "${name}": byte range ${start}..${end} does not match shape [${info.shape}] of ${info.dtype}`);
        }
        if (end > dataSize) {
          throw new ModelLoadError(path, `truncated: tensor "${name}" ends at byte ${dataStart + end} but the file has ${size} bytes`);
        }
        entries.set(name, { dtype: kind.dtype, shape: info.shape, start, end });
      }
      return new SafetensorsFile(path, fd, entries, dataStart, mapReadOnly(path));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  read(name: string): WeightTensor {
    const { dtype, shape, data } = this.readBytes(name);
    if (dtype === 'u8') throw new ModelLoadError(this.path, `tensor "${name}" holds raw bytes (U8), not numbers this tensor can be used as`);
    return { dtype, shape, data };
  }

  readBytes(name: string): { dtype: WeightDType | 'u8'; shape: number[]; data: Uint8Array } {
    const e = this.entries.get(name);
    if (!e) throw new ModelLoadError(this.path, `missing tensor "${name}"`);
    if (this.mapped) return { dtype: e.dtype, shape: e.shape, data: new Uint8Array(this.mapped, this.dataStart + e.start, e.end - e.start) };
    // A fresh ArrayBuffer keeps float32 views aligned whatever the offset in the file.
    const data = new Uint8Array(new ArrayBuffer(e.end - e.start));
    readExact(this.fd, data, this.dataStart + e.start, this.path, `tensor "${name}"`);
    return { dtype: e.dtype, shape: e.shape, data };
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** One or many safetensors files seen as one set of named tensors. */
export class SafetensorsSource implements TensorSource {
  private readonly byName = new Map<string, SafetensorsFile>();

  constructor(readonly files: SafetensorsFile[]) {
    for (const f of files) for (const name of f.entries.keys()) this.byName.set(name, f);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  fileOf(name: string): string {
    return this.byName.get(name)?.path ?? this.files[0]?.path ?? '(safetensors)';
  }

  get(name: string): WeightTensor {
    return this.fileWith(name).read(name);
  }

  bytes(name: string): { shape: number[]; data: Uint8Array } {
    return this.fileWith(name).readBytes(name);
  }

  private fileWith(name: string): SafetensorsFile {
    const f = this.byName.get(name);
    if (!f) throw new ModelLoadError(this.files.map((x) => x.path).join(', '), `missing tensor "${name}"`);
    return f;
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}
