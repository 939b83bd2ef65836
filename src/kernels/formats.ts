// TypeScript's one table of storage formats, for weights and for the KV cache: code, block size and
// bytes, whether quantized. The reference backend reads it directly; the native addon exports its own
// table (native/src/formats.h), and checkNativeFormats compares the two when the addon loads, so the
// codes passed across can never drift apart. Each format's reference dequantizer is in tensor.ts
// (weights) and reference/kv-quant.ts (KV records).

export const WEIGHT_DTYPES = [
  'f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'iq4_nl', 'iq4_xs', 'mxfp4',
] as const;
export type WeightDType = (typeof WEIGHT_DTYPES)[number];

export interface WeightFormat {
  code: number;
  /** Elements per block (1 for plain floats). */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
  quantized: boolean;
  /** The type's number in GGUF files (ggml_type). */
  ggmlType: number;
  /** Regrouped 8 rows at a time for the native integer kernel (packRows8); the others run as stored. */
  rows8: boolean;
}

// GGUF's block layouts (llama.cpp's ggml-common.h); each one's decoder, the specification of what its
// bytes mean, is in block-decoders.ts.
export const WEIGHT_FORMATS: Record<WeightDType, WeightFormat> = {
  f32: { code: 0, blockSize: 1, blockBytes: 4, quantized: false, ggmlType: 0, rows8: false },
  f16: { code: 1, blockSize: 1, blockBytes: 2, quantized: false, ggmlType: 1, rows8: false },
  bf16: { code: 2, blockSize: 1, blockBytes: 2, quantized: false, ggmlType: 30, rows8: false },
  q8_0: { code: 3, blockSize: 32, blockBytes: 34, quantized: true, ggmlType: 8, rows8: true },
  q4_0: { code: 4, blockSize: 32, blockBytes: 18, quantized: true, ggmlType: 2, rows8: true },
  q4_1: { code: 5, blockSize: 32, blockBytes: 20, quantized: true, ggmlType: 3, rows8: true },
  q5_0: { code: 6, blockSize: 32, blockBytes: 22, quantized: true, ggmlType: 6, rows8: true },
  q5_1: { code: 7, blockSize: 32, blockBytes: 24, quantized: true, ggmlType: 7, rows8: true },
  q2_k: { code: 8, blockSize: 256, blockBytes: 84, quantized: true, ggmlType: 10, rows8: false },
  q3_k: { code: 9, blockSize: 256, blockBytes: 110, quantized: true, ggmlType: 11, rows8: true },
  q4_k: { code: 10, blockSize: 256, blockBytes: 144, quantized: true, ggmlType: 12, rows8: true },
  q5_k: { code: 11, blockSize: 256, blockBytes: 176, quantized: true, ggmlType: 13, rows8: true },
  q6_k: { code: 12, blockSize: 256, blockBytes: 210, quantized: true, ggmlType: 14, rows8: true },
  iq4_nl: { code: 13, blockSize: 32, blockBytes: 18, quantized: true, ggmlType: 20, rows8: true },
  iq4_xs: { code: 14, blockSize: 256, blockBytes: 136, quantized: true, ggmlType: 23, rows8: true },
  // OCP Microscaling FP4 (gpt-oss's experts): an E8M0 exponent and 32 E2M1 codes.
  mxfp4: { code: 15, blockSize: 32, blockBytes: 17, quantized: true, ggmlType: 39, rows8: true },
};

/** The format GGUF's type number names, if this engine reads it. */
export function formatOfGgmlType(type: number): WeightDType | undefined {
  return WEIGHT_DTYPES.find((d) => WEIGHT_FORMATS[d].ggmlType === type);
}

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
