// A minimal GGUF v3 writer for tests: typed metadata, f32 tensors, 32-byte alignment.

import fs from 'node:fs';

export type MetaValue = { u32: number } | { f32: number } | { str: string } | { bool: boolean } | { strs: string[] } | { f32s: number[] } | { i32s: number[] };

const u32 = (x: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(x); return b; };
const u64 = (x: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(x)); return b; };
const str = (s: string) => { const d = Buffer.from(s, 'utf8'); return Buffer.concat([u64(d.length), d]); };

function encodeValue(v: MetaValue): Buffer {
  if ('u32' in v) return Buffer.concat([u32(4), u32(v.u32)]);
  if ('f32' in v) { const b = Buffer.alloc(4); b.writeFloatLE(v.f32); return Buffer.concat([u32(6), b]); }
  if ('str' in v) return Buffer.concat([u32(8), str(v.str)]);
  if ('bool' in v) return Buffer.concat([u32(7), Buffer.from([v.bool ? 1 : 0])]);
  if ('strs' in v) return Buffer.concat([u32(9), u32(8), u64(v.strs.length), ...v.strs.map(str)]);
  if ('f32s' in v) return Buffer.concat([u32(9), u32(6), u64(v.f32s.length), ...v.f32s.map((x) => { const b = Buffer.alloc(4); b.writeFloatLE(x); return b; })]);
  return Buffer.concat([u32(9), u32(5), u64(v.i32s.length), ...v.i32s.map((x) => { const b = Buffer.alloc(4); b.writeInt32LE(x); return b; })]);
}

export interface GgufTensor {
  name: string;
  /** Row-major, outermost first. */
  shape: number[];
  data: Float32Array;
  /** ggml type id written in the header (0 = F32); the data is written as given. */
  typeId?: number;
}

export function writeGguf(file: string, meta: [string, MetaValue][], tensors: GgufTensor[]): void {
  const infos: Buffer[] = [];
  let off = 0;
  for (const t of tensors) {
    infos.push(Buffer.concat([str(t.name), u32(t.shape.length), ...[...t.shape].reverse().map(u64), u32(t.typeId ?? 0), u64(off)]));
    off = Math.ceil((off + t.data.byteLength) / 32) * 32;
  }
  const head = Buffer.concat([Buffer.from('GGUF'), u32(3), u64(tensors.length), u64(meta.length), ...meta.map(([k, v]) => Buffer.concat([str(k), encodeValue(v)])), ...infos]);
  const parts: Buffer[] = [head, Buffer.alloc((32 - (head.length % 32)) % 32)];
  for (const t of tensors) {
    const b = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    parts.push(b, Buffer.alloc((32 - (b.length % 32)) % 32));
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}
