// GGUF (v2, v3): magic, version, tensor and metadata counts, typed key/value metadata, tensor infos,
// then the aligned data. Tensors are read one by one and kept in their GGUF block layout.

import fs from 'node:fs';
import { ModelLoadError } from '../../util/errors.js';
import { mapReadOnly, openForRead, readExact } from './file-io.js';
import { byteSize, type WeightDType, type WeightTensor } from '../../kernels/tensor.js';
import { WEIGHT_DTYPES, WEIGHT_FORMATS, formatOfGgmlType } from '../../kernels/formats.js';
import type { TensorSource } from './tensor-source.js';

export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** GGUF's value type numbers: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string, 9 array, 10 u64, 11 i64, 12 f64. */
export interface GgufType {
  type: number;
  /** For arrays: the type of every item. */
  itemType?: number;
}

// ggml's names of the types this engine does not read, for the error that names them.
const UNSUPPORTED_GGML_TYPES: Record<number, string> = {
  15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 21: 'IQ3_S', 22: 'IQ2_S', 24: 'I8', 25: 'I16',
  26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 34: 'TQ1_0', 35: 'TQ2_0',
};
const SUPPORTED = WEIGHT_DTYPES.map((d) => d.toUpperCase()).join(', ');

interface TensorInfo {
  name: string;
  /** Row-major shape, outermost first (GGUF stores it innermost first). */
  shape: number[];
  dtype: WeightDType;
  offset: number;
}

/** Buffered reads of the header, which may be many MB (a 150k-token vocabulary). */
class HeaderReader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  /** The item type of the last array read (GGUF arrays are homogeneous). */
  lastItemType = 0;

  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly file: string,
  ) {}

  private need(n: number): Buffer {
    if (this.pos + n > this.size) throw new ModelLoadError(this.file, `truncated GGUF header (needs byte ${this.pos + n}, file has ${this.size})`);
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      const len = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
      this.buf = Buffer.alloc(len);
      fs.readSync(this.fd, this.buf, 0, len, this.pos);
      this.bufStart = this.pos;
    }
    const o = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(o, o + n);
  }

  u8 = () => this.need(1).readUInt8(0);
  i8 = () => this.need(1).readInt8(0);
  u16 = () => this.need(2).readUInt16LE(0);
  i16 = () => this.need(2).readInt16LE(0);
  u32 = () => this.need(4).readUInt32LE(0);
  i32 = () => this.need(4).readInt32LE(0);
  f32 = () => this.need(4).readFloatLE(0);
  f64 = () => this.need(8).readDoubleLE(0);
  u64 = () => this.need(8).readBigUInt64LE(0);
  i64 = () => this.need(8).readBigInt64LE(0);
  count = (what: string) => {
    const v = this.u64();
    if (v > BigInt(this.size)) throw new ModelLoadError(this.file, `corrupted GGUF: ${what} of ${v} is impossible in a ${this.size}-byte file`);
    return Number(v);
  };
  str = () => this.need(this.count('string length')).toString('utf8');

  value(type: number): GgufValue {
    switch (type) {
      case 0: return this.u8();
      case 1: return this.i8();
      case 2: return this.u16();
      case 3: return this.i16();
      case 4: return this.u32();
      case 5: return this.i32();
      case 6: return this.f32();
      case 7: return this.u8() !== 0;
      case 8: return this.str();
      case 9: {
        const itemType = this.u32();
        this.lastItemType = itemType;
        const n = this.count('array length');
        const out: GgufValue[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value(itemType);
        return out;
      }
      case 10: return this.u64();
      case 11: return this.i64();
      case 12: return this.f64();
      default: throw new ModelLoadError(this.file, `corrupted GGUF: unknown metadata value type ${type}`);
    }
  }
}

export class GgufFile implements TensorSource {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly version: number,
    readonly metadata: Map<string, GgufValue>,
    /** Each key's value type as stored, so that a copy writes the same types. */
    readonly metadataTypes: Map<string, GgufType>,
    readonly tensors: Map<string, TensorInfo>,
    private readonly dataStart: number,
    private readonly mapped: ArrayBuffer | null,
  ) {}

  static open(path: string): GgufFile {
    const fd = openForRead(path);
    try {
      const size = fs.fstatSync(fd).size;
      const r = new HeaderReader(fd, size, path);
      if (size < 24 || r.u32() !== 0x46554747) throw new ModelLoadError(path, 'not a GGUF file (bad magic)');
      const version = r.u32();
      if (version !== 2 && version !== 3) throw new ModelLoadError(path, `unsupported GGUF version ${version} (supported: 2, 3)`);
      const nTensors = r.count('tensor count');
      const nKv = r.count('metadata count');
      const metadata = new Map<string, GgufValue>();
      const metadataTypes = new Map<string, GgufType>();
      for (let i = 0; i < nKv; i++) {
        const key = r.str();
        const type = r.u32();
        metadata.set(key, r.value(type));
        metadataTypes.set(key, type === 9 ? { type, itemType: r.lastItemType } : { type });
      }
      const tensors = new Map<string, TensorInfo>();
      for (let i = 0; i < nTensors; i++) {
        const name = r.str();
        const nDims = r.u32();
        if (nDims > 4) throw new ModelLoadError(path, `corrupted GGUF: tensor "${name}" has ${nDims} dimensions`);
        const dims: number[] = [];
        for (let d = 0; d < nDims; d++) dims.push(Number(r.u64()));
        const typeId = r.u32();
        const dtype = formatOfGgmlType(typeId);
        if (!dtype) {
          throw new ModelLoadError(path, `tensor "${name}" has unsupported type ${UNSUPPORTED_GGML_TYPES[typeId] ?? `#${typeId}`} (supported: ${SUPPORTED})`);
        }
        const block = WEIGHT_FORMATS[dtype].blockSize;
        if (dims.length === 0 || dims[0]! % block !== 0) {
          throw new ModelLoadError(path, `corrupted GGUF: tensor "${name}" is ${dtype.toUpperCase()}, whose rows are blocks of ${block}, but its rows have ${dims[0] ?? 0} elements`);
        }
        tensors.set(name, { name, shape: dims.reverse(), dtype, offset: Number(r.u64()) });
      }
      const alignment = Number(metadata.get('general.alignment') ?? 32);
      const dataStart = Math.ceil(r.pos / alignment) * alignment;
      for (const t of tensors.values()) {
        const end = dataStart + t.offset + byteSize(t.dtype, t.shape.reduce((a, b) => a * b, 1));
        if (end > size) throw new ModelLoadError(path, `truncated: tensor "${t.name}" ends at byte ${end} but the file has ${size} bytes`);
      }
      return new GgufFile(path, fd, version, metadata, metadataTypes, tensors, dataStart, mapReadOnly(path));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  fileOf(): string {
    return this.path;
  }

  get(name: string): WeightTensor {
    const t = this.tensors.get(name);
    if (!t) throw new ModelLoadError(this.path, `missing tensor "${name}"`);
    const bytes = byteSize(t.dtype, t.shape.reduce((a, b) => a * b, 1));
    if (this.mapped) return { dtype: t.dtype, shape: t.shape, data: new Uint8Array(this.mapped, this.dataStart + t.offset, bytes) };
    const data = new Uint8Array(new ArrayBuffer(bytes));
    readExact(this.fd, data, this.dataStart + t.offset, this.path, `tensor "${name}"`);
    return { dtype: t.dtype, shape: t.shape, data };
  }

  meta(key: string): GgufValue | undefined {
    return this.metadata.get(key);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
