// How the paged KV cache stores one head of one token ("a head record"), per dtype. A block holds, for
// each KV head in turn, the records of its blockSize tokens: [numKvHeads][blockSize] records, so the
// attention task of one head reads each block's keys (and values) as one contiguous run. Scales live
// inside the record, so they stay with the block when it is shared, cached or evicted.
//
//   f32, f16, bf16   headDim plain floats
//   int8             headDim x int8, then one bf16 scale:          x = q * s,  s = max|x| / 127
//   fp8_e4m3/e5m2    headDim x fp8 (OCP), then one bf16 scale:     x = fp8 * s, s = max|x| / fp8 max
//   int4             groups of G values, two per byte (byte j holds value j low, j + G/2 high), then one
//                    bf16 scale per group: x = (q - 8) * d, d = (signed value of largest |x|) / -8, as
//                    GGUF's q4_0 does; G = 32, or the whole head when headDim is not a multiple of 32.
//
// Scales are per token and head because K/V are quantized as they are written, one token at a time:
// a per-block scale would have to be re-derived, and the block requantized, as the block fills. They are
// bf16, rounded up so that no value is clipped: f32's range (no underflow for tiny heads) in 2 bytes.

export const KV_CACHE_DTYPES = ['f32', 'f16', 'bf16', 'fp8_e4m3', 'fp8_e5m2', 'int8', 'int4'] as const;
export type KVCacheDType = (typeof KV_CACHE_DTYPES)[number];
/** Numbering shared with native/src/kv-format.h. */
export const NATIVE_KV_DTYPE: Record<KVCacheDType, number> = { f32: 0, f16: 1, bf16: 2, fp8_e4m3: 3, fp8_e5m2: 4, int8: 5, int4: 6 };

/** Values per int4 scale group for a head of headDim values. */
export function int4GroupSize(headDim: number): number {
  return headDim % 32 === 0 ? 32 : headDim;
}

/** Bytes of one head record, scales included. */
export function kvHeadBytes(dtype: KVCacheDType, headDim: number): number {
  switch (dtype) {
    case 'f32':
      return headDim * 4;
    case 'f16':
    case 'bf16':
      return headDim * 2;
    case 'int8':
    case 'fp8_e4m3':
    case 'fp8_e5m2':
      return headDim + 2;
    case 'int4':
      return headDim / 2 + (headDim / int4GroupSize(headDim)) * 2;
  }
}

/** Why this head size cannot be stored in `dtype`, or null when it can. */
export function kvDTypeUnsupported(dtype: KVCacheDType, headDim: number): string | null {
  if (dtype === 'int4' && headDim % 2 !== 0) return `int4 KV cache needs an even head dimension, this model's is ${headDim}`;
  return null;
}

/** Byte offset of the record of `head` for the token in `slot` (= block * blockSize + offset). */
export function kvRecordOffset(slot: number, head: number, blockSize: number, numKvHeads: number, headBytes: number): number {
  const offset = slot % blockSize;
  return (((slot - offset) / blockSize) * numKvHeads + head) * blockSize * headBytes + offset * headBytes;
}

/** Bytes of K and V for one token, all layers. */
export function kvBytesPerToken(dtype: KVCacheDType, numLayers: number, numKvHeads: number, headDim: number): number {
  return 2 * numLayers * numKvHeads * kvHeadBytes(dtype, headDim);
}
