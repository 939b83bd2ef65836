// A minimal safetensors writer for test checkpoints: a JSON header of dtypes, shapes and offsets, then
// the raw little-endian data.

import fs from 'node:fs';

export interface SafetensorsTensor { dtype: 'F32' | 'U8'; shape: number[]; data: Uint8Array }

export function writeSafetensors(file: string, tensors: Map<string, SafetensorsTensor>): void {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.data.length] };
    at += t.data.length;
  }
  let json = Buffer.from(JSON.stringify(header));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, ...[...tensors.values()].map((t) => t.data)]));
}
