// TypeScript's one table of storage formats, for weights and for the KV cache: code, block size and
// bytes, whether quantized. The reference backend reads it directly; the native addon exports its own
// table (native/src/formats.h), and checkNativeFormats compares the two when the addon loads, so the
// codes passed across can never drift apart. Each format's reference dequantizer is in tensor.ts
// (weights) and reference/kv-quant.ts (KV records).

export const WEIGHT_DTYPES = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'] as const;
export type WeightDType = (typeof WEIGHT_DTYPES)[number];

export interface WeightFormat {
  code: number;
  /** Elements per block (1 for plain floats). */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
  quantized: boolean;
}

// GGUF block layouts: q8_0 = f16 scale + 32 x int8; q4_0 = f16 scale + 16 bytes of nibbles
// (low nibbles hold elements 0..15, high nibbles 16..31, value = (q - 8) * scale).
export const WEIGHT_FORMATS: Record<WeightDType, WeightFormat> = {
  f32: { code: 0, blockSize: 1, blockBytes: 4, quantized: false },
  f16: { code: 1, blockSize: 1, blockBytes: 2, quantized: false },
  bf16: { code: 2, blockSize: 1, blockBytes: 2, quantized: false },
  q8_0: { code: 3, blockSize: 32, blockBytes: 34, quantized: true },
  q4_0: { code: 4, blockSize: 32, blockBytes: 18, quantized: true },
};

export const KV_CACHE_DTYPES = ['f32', 'f16', 'bf16', 'fp8_e4m3', 'fp8_e5m2', 'int8', 'int4'] as const;
export type KVCacheDType = (typeof KV_CACHE_DTYPES)[number];

/** A head record: headDim values of valueBits each, then (scaled) one bf16 scale per group. */
export interface KVFormat {
  code: number;
  valueBits: number;
  scaled: boolean;
  /** Values per scale; 0, or a head that is not a multiple of it, means one scale per head. */
  scaleGroup: number;
}

export const KV_FORMATS: Record<KVCacheDType, KVFormat> = {
  f32: { code: 0, valueBits: 32, scaled: false, scaleGroup: 0 },
  f16: { code: 1, valueBits: 16, scaled: false, scaleGroup: 0 },
  bf16: { code: 2, valueBits: 16, scaled: false, scaleGroup: 0 },
  fp8_e4m3: { code: 3, valueBits: 8, scaled: true, scaleGroup: 0 },
  fp8_e5m2: { code: 4, valueBits: 8, scaled: true, scaleGroup: 0 },
  int8: { code: 5, valueBits: 8, scaled: true, scaleGroup: 0 },
  int4: { code: 6, valueBits: 4, scaled: true, scaleGroup: 32 },
};

/** The addon's table, as its formats() returns it. */
export interface NativeFormatTable {
  weights: ({ name: string } & WeightFormat)[];
  kv: ({ name: string } & KVFormat)[];
}

/** Every difference between the addon's format table and this one (empty when they agree). */
export function checkNativeFormats(native: NativeFormatTable): string[] {
  const problems: string[] = [];
  const compare = <F extends object>(kind: string, ours: Record<string, F>, theirs: ({ name: string } & F)[]) => {
    const seen = new Set<string>();
    for (const t of theirs) {
      seen.add(t.name);
      const o = ours[t.name];
      if (!o) {
        problems.push(`${kind} format ${t.name} is in the addon but not in src/kernels/formats.ts`);
        continue;
      }
      for (const key of Object.keys(o) as (keyof F)[]) {
        if (o[key] !== t[key]) problems.push(`${kind} format ${t.name}: ${String(key)} is ${String(t[key])} in the addon, ${String(o[key])} in TypeScript`);
      }
    }
    for (const name of Object.keys(ours)) if (!seen.has(name)) problems.push(`${kind} format ${name} is in src/kernels/formats.ts but not in the addon`);
  };
  compare('weight', WEIGHT_FORMATS, native.weights);
  compare('KV', KV_FORMATS, native.kv);
  return problems;
}
