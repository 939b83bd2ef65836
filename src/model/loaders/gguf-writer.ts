// GGUF v3 out: typed metadata, tensor infos, then each tensor's bytes aligned to 32, written as they
// are produced so a multi-GB model never sits in memory whole.

import fs from 'node:fs';
import { WEIGHT_FORMATS, type WeightDType } from '../../kernels/formats.js';
import { byteSize } from '../../kernels/tensor.js';
import type { GgufType, GgufValue } from './gguf.js';

export interface GgufEntry extends GgufType {
  key: string;
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  /** Row-major, outermost first. */
  shape: number[];
  dtype: WeightDType;
}

const ALIGNMENT = 32;

export const GGUF_TYPE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;

function encodeScalar(type: number, v: GgufValue, out: Buffer[]): void {
  const b = (n: number) => Buffer.alloc(n);
  let buf: Buffer;
  switch (type) {
    case 0: buf = b(1); buf.writeUInt8(Number(v)); break;
    case 1: buf = b(1); buf.writeInt8(Number(v)); break;
    case 2: buf = b(2); buf.writeUInt16LE(Number(v)); break;
    case 3: buf = b(2); buf.writeInt16LE(Number(v)); break;
    case 4: buf = b(4); buf.writeUInt32LE(Number(v)); break;
    case 5: buf = b(4); buf.writeInt32LE(Number(v)); break;
    case 6: buf = b(4); buf.writeFloatLE(Number(v)); break;
    case 7: buf = b(1); buf.writeUInt8(v ? 1 : 0); break;
    case 8: {
      const s = Buffer.from(String(v), 'utf8');
      buf = b(8);
      buf.writeBigUInt64LE(BigInt(s.length));
      out.push(buf, s);
      return;
    }
    case 10: buf = b(8); buf.writeBigUInt64LE(BigInt(v as number | bigint)); break;
    case 11: buf = b(8); buf.writeBigInt64LE(BigInt(v as number | bigint)); break;
    case 12: buf = b(8); buf.writeDoubleLE(Number(v)); break;
    default: throw new Error(`GGUF value type ${type} is not a scalar`);
  }
  out.push(buf);
}

function encodeEntry(e: GgufEntry, out: Buffer[]): void {
  encodeScalar(8, e.key, out);
  const t = Buffer.alloc(4);
  t.writeUInt32LE(e.type);
  out.push(t);
  if (e.type !== 9) return encodeScalar(e.type, e.value, out);
  const items = e.value as GgufValue[];
  const head = Buffer.alloc(12);
  head.writeUInt32LE(e.itemType!);
  head.writeBigUInt64LE(BigInt(items.length), 4);
  out.push(head);
  for (const item of items) encodeScalar(e.itemType!, item, out);
}

export class GgufWriter {
  private readonly fd: number;
  private next = 0;
  private readonly sizes: number[];

  constructor(
    readonly file: string,
    meta: readonly GgufEntry[],
    private readonly tensors: readonly GgufTensorInfo[],
  ) {
    const parts: Buffer[] = [];
    const head = Buffer.alloc(24);
    head.write('GGUF', 0, 'ascii');
    head.writeUInt32LE(3, 4);
    head.writeBigUInt64LE(BigInt(tensors.length), 8);
    head.writeBigUInt64LE(BigInt(meta.length), 16);
    parts.push(head);
    for (const e of meta) encodeEntry(e, parts);
    this.sizes = tensors.map((t) => byteSize(t.dtype, t.shape.reduce((a, b) => a * b, 1)));
    let offset = 0;
    for (const [i, t] of tensors.entries()) {
      encodeScalar(8, t.name, parts);
      const info = Buffer.alloc(4 + 8 * t.shape.length + 4 + 8);
      info.writeUInt32LE(t.shape.length);
      [...t.shape].reverse().forEach((d, j) => info.writeBigUInt64LE(BigInt(d), 4 + 8 * j));
      info.writeUInt32LE(WEIGHT_FORMATS[t.dtype].ggmlType, 4 + 8 * t.shape.length);
      info.writeBigUInt64LE(BigInt(offset), 8 + 8 * t.shape.length);
      parts.push(info);
      offset += Math.ceil(this.sizes[i]! / ALIGNMENT) * ALIGNMENT;
    }
    const header = Buffer.concat(parts);
    this.fd = fs.openSync(file, 'w');
    fs.writeSync(this.fd, header);
    fs.writeSync(this.fd, Buffer.alloc((ALIGNMENT - (header.length % ALIGNMENT)) % ALIGNMENT));
  }

  /** The next tensor's bytes, in the order the tensors were declared. */
  write(data: Uint8Array): void {
    const t = this.tensors[this.next];
    if (!t || data.byteLength !== this.sizes[this.next]) {
      throw new Error(`GGUF writer: tensor ${this.next} (${t?.name ?? 'none'}) expects ${this.sizes[this.next] ?? 0} bytes, got ${data.byteLength}`);
    }
    fs.writeSync(this.fd, data);
    fs.writeSync(this.fd, Buffer.alloc((ALIGNMENT - (data.byteLength % ALIGNMENT)) % ALIGNMENT));
    this.next++;
  }

  close(): void {
    fs.closeSync(this.fd);
    if (this.next !== this.tensors.length) throw new Error(`GGUF writer: ${this.tensors.length - this.next} tensors were not written`);
  }
}
