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

import { KV_FORMATS, type KVCacheDType } from './formats.js';

export { KV_CACHE_DTYPES, type KVCacheDType } from './formats.js';
/** Values per scale of a head of headDim values (int4: 32, or the whole head when it is not a multiple of 32). */
export function scaleGroupSize(dtype: KVCacheDType, headDim: number): number {
  const g = KV_FORMATS[dtype].scaleGroup;
  return g > 0 && headDim % g === 0 ? g : headDim;
}

/** Values per int4 scale group for a head of headDim values. */
export function int4GroupSize(headDim: number): number {
  return scaleGroupSize('int4', headDim);
}

/** Bytes of one head record, scales included. */
export function kvHeadBytes(dtype: KVCacheDType, headDim: number): number {
  const f = KV_FORMATS[dtype];
  const values = (headDim * f.valueBits) / 8;
  return f.scaled ? values + (headDim / scaleGroupSize(dtype, headDim)) * 2 : values;
}

/** Why this head size cannot be stored in `dtype`, or null when it can. */
export function kvDTypeUnsupported(dtype: KVCacheDType, headDim: number): string | null {
  if ((headDim * KV_FORMATS[dtype].valueBits) % 8 !== 0) return `${dtype} KV cache needs a head dimension whose values fill whole bytes (even for int4), this model's is ${headDim}`;
  return null;
}

/** Byte offset of the record of `head` for the token in `slot` (= block * blockSize + offset). */
export function kvRecordOffset(slot: number, head: number, blockSize: number, numKvHeads: number, headBytes: number): number {
  const offset = slot % blockSize;
  return (((slot - offset) / blockSize) * numKvHeads + head) * blockSize * headBytes + offset * headBytes;
}

/** Bytes of K and V for one token, all layers; `pools` 1 when the values are the keys (MLA). */
export function kvBytesPerToken(dtype: KVCacheDType, numLayers: number, numKvHeads: number, headDim: number, pools: 1 | 2 = 2): number {
  return pools * numLayers * numKvHeads * kvHeadBytes(dtype, headDim);
}
