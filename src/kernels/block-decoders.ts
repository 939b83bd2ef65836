// What the bytes of each quantized GGUF block mean: the specification the native kernels are tested
// against, bit for bit equal to llama.cpp's dequantize_row_* (ggml-quants.c).
//
// Every block format decodes to the same three things: a small integer per element (v, int8), and per
// group of 16 elements a float scale s and offset o, so that element i is fround(s[i/16] * v[i]) - o[i/16].
// That is literally each format's formula once its super-block scales are applied: q4_K's
// `d1 * q - m1`, q6_K's `(d * sc) * q`, q4_1's `q * d + m` (o = -m), iq4's `d * table[q]`. The
// native integer kernel reads the same decomposition: sum(v * xq) per group, times s, minus o * sum(x).

import { WEIGHT_FORMATS, type WeightDType } from './formats.js';
import { halfToFloat } from './tensor.js';

/** Writes block `b`'s values (`blockSize` of them) and its per-16 scales and offsets. */
export type BlockDecoder = (d: Uint8Array, off: number, v: Int8Array, s: Float32Array, o: Float32Array) => void;

const f16 = (d: Uint8Array, off: number): number => halfToFloat(d[off]! | (d[off + 1]! << 8));
const fr = Math.fround;

/** ggml's kvalues_mxfp4: E2M1 codes' values times 2 (so integers), the upper 8 negative. */
export const MXFP4_VALUES = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/** llama.cpp's non-linear 4-bit grid of iq4_nl and iq4_xs. */
export const IQ4_VALUES = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

// A 32-block: one scale (and offset) for both of its groups of 16.
function scale32(s: Float32Array, o: Float32Array, d: number, m: number): void {
  s[0] = s[1] = d;
  o[0] = o[1] = m;
}

// Legacy blocks hold element j in the low nibble of byte j and element j + 16 in its high nibble.
function nibbles(d: Uint8Array, qs: number, v: Int8Array, bias: number, high?: number): void {
  for (let j = 0; j < 16; j++) {
    const q = d[qs + j]!;
    const h = high === undefined ? 0 : high;
    v[j] = (q & 15) + (((h >>> j) << 4) & 16) - bias;
    v[j + 16] = (q >> 4) + ((h >>> (j + 12)) & 16) - bias;
  }
}

// q4_K and q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes (get_scale_min_k4).
function scaleMinK4(d: Uint8Array, sc: number, j: number): [number, number] {
  if (j < 4) return [d[sc + j]! & 63, d[sc + j + 4]! & 63];
  return [(d[sc + j + 4]! & 15) | ((d[sc + j - 4]! >> 6) << 4), (d[sc + j + 4]! >> 4) | ((d[sc + j]! >> 6) << 4)];
}

const u32 = (d: Uint8Array, off: number): number => (d[off]! | (d[off + 1]! << 8) | (d[off + 2]! << 16) | (d[off + 3]! << 24)) >>> 0;

export const BLOCK_DECODERS: Partial<Record<WeightDType, BlockDecoder>> = {
  // [d f16][32 x int8]
  q8_0: (d, off, v, s, o) => {
    for (let j = 0; j < 32; j++) v[j] = (d[off + 2 + j]! << 24) >> 24;
    scale32(s, o, f16(d, off), 0);
  },
  // [d f16][16 bytes of nibbles]: (q - 8) * d
  q4_0: (d, off, v, s, o) => {
    nibbles(d, off + 2, v, 8);
    scale32(s, o, f16(d, off), 0);
  },
  // [d f16][m f16][16 bytes of nibbles]: q * d + m
  q4_1: (d, off, v, s, o) => {
    nibbles(d, off + 4, v, 0);
    scale32(s, o, f16(d, off), -f16(d, off + 2));
  },
  // [d f16][qh u32: bit j is element j's fifth bit][16 bytes of nibbles]: (q - 16) * d
  q5_0: (d, off, v, s, o) => {
    nibbles(d, off + 6, v, 16, u32(d, off + 2));
    scale32(s, o, f16(d, off), 0);
  },
  // [d f16][m f16][qh u32][16 bytes of nibbles]: q * d + m
  q5_1: (d, off, v, s, o) => {
    nibbles(d, off + 8, v, 0, u32(d, off + 4));
    scale32(s, o, f16(d, off), -f16(d, off + 2));
  },
  // [e E8M0][16 bytes of E2M1 codes]: the codes' values doubled to integers, times 2^(e - 128)
  mxfp4: (d, off, v, s, o) => {
    for (let j = 0; j < 16; j++) {
      v[j] = MXFP4_VALUES[d[off + 1 + j]! & 15]!;
      v[j + 16] = MXFP4_VALUES[d[off + 1 + j]! >> 4]!;
    }
    scale32(s, o, 2 ** (d[off]! - 128), 0);
  },
  // [d f16][16 bytes]: d * grid[q]
  iq4_nl: (d, off, v, s, o) => {
    for (let j = 0; j < 16; j++) {
      v[j] = IQ4_VALUES[d[off + 2 + j]! & 15]!;
      v[j + 16] = IQ4_VALUES[d[off + 2 + j]! >> 4]!;
    }
    scale32(s, o, f16(d, off), 0);
  },
  // [scales 16: low nibble scale, high nibble min, per 16][qs 64: 2 bits][d f16][dmin f16]
  // Each 128 elements read 32 bytes of qs four times, two bits further each time.
  q2_k: (d, off, v, s, o) => {
    const dAll = f16(d, off + 80), dMin = f16(d, off + 82);
    for (let g = 0; g < 16; g++) {
      const sc = d[off + g]!;
      s[g] = fr(dAll * (sc & 15));
      o[g] = fr(dMin * (sc >> 4));
      const q = off + 16 + 32 * (g >> 3) + 16 * (g & 1), shift = 2 * ((g >> 1) & 3);
      for (let l = 0; l < 16; l++) v[16 * g + l] = (d[q + l]! >> shift) & 3;
    }
  },
  // [hmask 32: high bit][qs 64: low 2 bits][scales 12: sixteen 6-bit][d f16]: d * (sc - 32) * (q - 4 if
  // the high bit is clear). Scale g's low 4 bits are a nibble of bytes 0..7, its top 2 bits in 8..11.
  q3_k: (d, off, v, s, o) => {
    const dAll = f16(d, off + 108), sc = off + 96;
    for (let g = 0; g < 16; g++) {
      const b = g & 3, quarter = g >> 2;
      const low = (d[sc + (quarter & 1) * 4 + b]! >> (quarter >= 2 ? 4 : 0)) & 15;
      const high = (d[sc + 8 + b]! >> (2 * quarter)) & 3;
      s[g] = fr(dAll * ((low | (high << 4)) - 32));
      o[g] = 0;
      const q = off + 32 + 32 * (g >> 3), half = 16 * (g & 1), j = (g >> 1) & 3, bit = 1 << (4 * (g >> 3) + j);
      for (let l = 0; l < 16; l++) {
        v[16 * g + l] = ((d[q + half + l]! >> (2 * j)) & 3) - (d[off + half + l]! & bit ? 0 : 4);
      }
    }
  },
  // [d f16][dmin f16][scales 12][qs 128]: per 32, d * sc * q - dmin * m; each 64 elements are the low
  // then the high nibbles of 32 bytes.
  q4_k: (d, off, v, s, o) => kQuant(d, off, v, s, o, -1),
  // q4_K plus [qh 32] before qs: bit 2c (low nibbles) or 2c + 1 (high) of qh[l] is chunk c's fifth bit.
  q5_k: (d, off, v, s, o) => kQuant(d, off, v, s, o, off + 16),
  // [ql 128: low 4 bits][qh 64: high 2 bits][scales 16 x int8][d f16]: (d * sc) * (q - 32)
  q6_k: (d, off, v, s, o) => {
    const dAll = f16(d, off + 208);
    for (let g = 0; g < 16; g++) {
      s[g] = fr(dAll * ((d[off + 192 + g]! << 24) >> 24));
      o[g] = 0;
    }
    for (let n = 0; n < 2; n++) {
      const ql = off + 64 * n, qh = off + 128 + 32 * n, y = 128 * n;
      for (let l = 0; l < 32; l++) {
        const h = d[qh + l]!;
        v[y + l] = ((d[ql + l]! & 15) | ((h & 3) << 4)) - 32;
        v[y + l + 32] = ((d[ql + l + 32]! & 15) | (((h >> 2) & 3) << 4)) - 32;
        v[y + l + 64] = ((d[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
        v[y + l + 96] = ((d[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
      }
    }
  },
  // [d f16][scales_h u16][scales_l 4][qs 128]: per 32, d * (ls - 32) * grid[q], ls 6 bits.
  iq4_xs: (d, off, v, s, o) => {
    const dAll = f16(d, off), sh = d[off + 2]! | (d[off + 3]! << 8);
    for (let ib = 0; ib < 8; ib++) {
      const ls = ((d[off + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
      s[2 * ib] = s[2 * ib + 1] = fr(dAll * (ls - 32));
      o[2 * ib] = o[2 * ib + 1] = 0;
      const qs = off + 8 + 16 * ib;
      for (let j = 0; j < 16; j++) {
        v[32 * ib + j] = IQ4_VALUES[d[qs + j]! & 15]!;
        v[32 * ib + j + 16] = IQ4_VALUES[d[qs + j]! >> 4]!;
      }
    }
  },
};

function kQuant(d: Uint8Array, off: number, v: Int8Array, s: Float32Array, o: Float32Array, qh: number): void {
  const dAll = f16(d, off), dMin = f16(d, off + 2);
  const qs = off + (qh >= 0 ? 48 : 16);
  for (let c = 0; c < 8; c++) {
    const [sc, m] = scaleMinK4(d, off + 4, c);
    s[2 * c] = s[2 * c + 1] = fr(dAll * sc);
    o[2 * c] = o[2 * c + 1] = fr(dMin * m);
    const q = qs + 32 * (c >> 1), shift = 4 * (c & 1);
    for (let l = 0; l < 32; l++) {
      const high = qh >= 0 && d[qh + l]! & (1 << c) ? 16 : 0;
      v[32 * c + l] = ((d[q + l]! >> shift) & 15) + high;
    }
  }
}

/** Elements [start, start + count) of a block-format tensor as float32; start is a block boundary. */
export function dequantizeBlocks(dtype: WeightDType, data: Uint8Array, start: number, count: number, out: Float32Array): void {
  const decode = BLOCK_DECODERS[dtype]!;
  const { blockSize, blockBytes } = WEIGHT_FORMATS[dtype];
  const v = new Int8Array(blockSize), s = new Float32Array(blockSize / 16), o = new Float32Array(blockSize / 16);
  const first = start / blockSize;
  for (let b = 0; b < count / blockSize; b++) {
    decode(data, (first + b) * blockBytes, v, s, o);
    const y = b * blockSize;
    for (let i = 0; i < blockSize; i++) out[y + i] = fr(s[i >> 4]! * v[i]!) - o[i >> 4]!;
  }
}
