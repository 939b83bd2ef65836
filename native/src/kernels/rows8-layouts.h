// How packRows8 lays out 8 rows of each regrouped format (every block format but q2_K), for the integer
// kernel in matmul-rows8.cc.
//
// A group is 8 consecutive rows side by side, block of 32 by block of 32. A block is a 16-byte head
// (the 8 rows' scales for it) then the 8 rows' quants in 4-byte pieces, piece t of row r at
// body[32 t + 4 r]: one 32-byte load is piece t of all eight rows, and an integer dot product against
// 4 activation bytes broadcast to every lane leaves row r's partial sum in lane r.
//
// Pieces hold either int8 values (8 per block: elements 4t .. 4t+3) or nibbles as q4_0 stores them (4
// per block: low nibbles elements 4t .. 4t+3, high nibbles 16+4t .. 16+4t+3).
//
// The K-quants keep their two-level scales, so the packed copy is as small as the original (+3%):
// each 256 elements start with a super-block head of the 8 rows' f16 super-scales, and each block head
// holds the 8 rows' small integer scales, multiplied out in the kernel.
//   q8_0 block head: 8 f16 scales.                       value = d * q (int8)
//   q4_0 block head: 8 f16 scales.                       value = d * (nibble - 8)
//   q4_K super head: 8 f16 d, then 8 f16 dmin; block head: 8 u8 sc, then 8 u8 m.
//                                                        value = (d * sc) * nibble - dmin * m
//   q5_K as q4_K, its 5-bit values as int8 pieces (8 bits a weight: 1.5x the original's bytes,
//        for a kernel as fast as q8_0's instead of a row-at-a-time decode).
//   iq4_nl block head: 8 f16 scales; nibbles index the grid.  value = d * grid[nibble]
//   mxfp4 block head: 8 u8 E8M0 exponents; nibbles index the doubled E2M1 grid.
//                                                        value = 2^(e - 128) * grid[nibble]
//   iq4_xs super head: 8 f16 d; block head: 8 i8 (ls - 32); nibbles index the grid.
//                                                        value = (d * (ls - 32)) * grid[nibble]
//   q3_K as q6_K without the plane: values q + 4 (0..7) as nibbles, scales (sc - 32).
//   q6_K super head: 8 f16 d; block head: 8 i8 scales of elements 0..15, then 8 of 16..31; its
//        6-bit values as nibble pieces plus a plane of their top 2 bits (as small as the original).
//                                                        value = (d * sc) * (q6 - 32)
// Rows past n are zero: scales and quants, so they contribute nothing.
#pragma once

#include "weight-formats.h"

namespace tsllm {
namespace TSLLM_ISA {

constexpr int kGroupRows = 8;

enum class Rows8Kind { Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, Q3_K, IQ4_NL, IQ4_XS, Q4_1, Q5_0, Q5_1, MXFP4 };

template <class W>
struct Rows8;

template <Rows8Kind K, int Pieces, int SuperBlocks, int SuperHead, bool HighPlane = false, int FifthPlane = 0, int BlockHead = 16>
struct Rows8Layout {
  static constexpr Rows8Kind kKind = K;
  static constexpr int kPieces = Pieces;
  static constexpr bool kNibbles = Pieces == 4;
  // Two more bits per value after the nibbles (q6_K): 2 x 32 bytes, byte [32 h + 4 r + i] holding the
  // top bits of row r's elements 4t + i, 16 + 4t + i for t = 2h (bits 0-3) and t = 2h + 1 (bits 4-7).
  static constexpr bool kHighPlane = HighPlane;
  // One more bit per value (q5_0, q5_1): 32 bytes, bit 2t of byte [4 r + i] for element 4t + i, bit
  // 2t + 1 for element 16 + 4t + i.
  static constexpr bool kFifthPlane = FifthPlane != 0;
  static constexpr int kBlockHead = BlockHead;
  static constexpr int kPackedBlock = kBlockHead + 4 * kGroupRows * Pieces + (HighPlane ? 64 : 0) + (FifthPlane ? 32 : 0);
  // Blocks of 32 per super-block, and the super-block head's bytes (none for the 32-blocks).
  static constexpr int kSuperBlocks = SuperBlocks;
  static constexpr int kSuperHead = SuperHead;
  static constexpr int kSuperBytes = SuperHead + SuperBlocks * kPackedBlock;
  static size_t groupBytes(int k) { return static_cast<size_t>(k / 32 / SuperBlocks) * kSuperBytes; }
  static const uint8_t* super(const uint8_t* group, int b) { return group + static_cast<size_t>(b / SuperBlocks) * kSuperBytes; }
  static const uint8_t* block(const uint8_t* group, int b) { return super(group, b) + SuperHead + (b % SuperBlocks) * kPackedBlock; }
  // Row r's 32 values of block b (as int8 in element order) into `v`.
  // Row r's 32 values of a block, in element order (q6_K's as stored, 0..63; the kernel subtracts 32).
  static void values(const uint8_t* blk, int r, int8_t* v) {
    const uint8_t* body = blk + kBlockHead;
    for (int t = 0; t < Pieces; t++) {
      for (int i = 0; i < 4; i++) {
        const uint8_t q = body[32 * t + 4 * r + i];
        if (kNibbles) {
          int lo = q & 15, hi = q >> 4;
          if (HighPlane) {
            const uint8_t h = body[128 + 32 * (t / 2) + 4 * r + i] >> (4 * (t % 2));
            lo |= (h & 3) << 4;
            hi |= ((h >> 2) & 3) << 4;
          }
          if (FifthPlane) {
            const uint8_t h = body[128 + 4 * r + i] >> (2 * t);
            lo |= (h & 1) << 4;
            hi |= ((h >> 1) & 1) << 4;
          }
          v[4 * t + i] = static_cast<int8_t>(lo);
          v[16 + 4 * t + i] = static_cast<int8_t>(hi);
        } else {
          v[4 * t + i] = static_cast<int8_t>(q);
        }
      }
    }
  }
  static void putValues(uint8_t* blk, int r, const int8_t* v) {
    uint8_t* body = blk + kBlockHead;
    for (int t = 0; t < Pieces; t++) {
      for (int i = 0; i < 4; i++) {
        const int lo = v[4 * t + i], hi = kNibbles ? v[16 + 4 * t + i] : 0;
        body[32 * t + 4 * r + i] = kNibbles ? static_cast<uint8_t>((lo & 15) | ((hi & 15) << 4)) : static_cast<uint8_t>(lo);
        if (HighPlane) body[128 + 32 * (t / 2) + 4 * r + i] |= static_cast<uint8_t>((((lo >> 4) & 3) | (((hi >> 4) & 3) << 2)) << (4 * (t % 2)));
        if (FifthPlane) body[128 + 4 * r + i] |= static_cast<uint8_t>((((lo >> 4) & 1) | (((hi >> 4) & 1) << 1)) << (2 * t));
      }
    }
  }
};

template <>
struct Rows8<Q8_0> : Rows8Layout<Rows8Kind::Q8_0, 8, 1, 0> {};
template <>
struct Rows8<Q4_0> : Rows8Layout<Rows8Kind::Q4_0, 4, 1, 0> {};
template <>
struct Rows8<Q4_K> : Rows8Layout<Rows8Kind::Q4_K, 4, 8, 32> {};
template <>
struct Rows8<Q5_K> : Rows8Layout<Rows8Kind::Q5_K, 8, 8, 32> {};
template <>
struct Rows8<Q6_K> : Rows8Layout<Rows8Kind::Q6_K, 4, 8, 16, true> {};
template <>
struct Rows8<Q3_K> : Rows8Layout<Rows8Kind::Q3_K, 4, 8, 16> {};

// q6_K and q3_K: a signed scale per 16 values (times the super-block's d), values stored as unsigned
// q + centre (q6 as stored; q3's -4..3 plus 4), the centre taken off per 16 in the kernel.
constexpr bool scalesPer16(Rows8Kind k) { return k == Rows8Kind::Q6_K || k == Rows8Kind::Q3_K; }
constexpr int centre16(Rows8Kind k) { return k == Rows8Kind::Q6_K ? 32 : 4; }
template <>
struct Rows8<IQ4_NL> : Rows8Layout<Rows8Kind::IQ4_NL, 4, 1, 0> {};
template <>
struct Rows8<IQ4_XS> : Rows8Layout<Rows8Kind::IQ4_XS, 4, 8, 16> {};
template <>
struct Rows8<MXFP4> : Rows8Layout<Rows8Kind::MXFP4, 4, 1, 0> {};

template <>
struct Rows8<Q4_1> : Rows8Layout<Rows8Kind::Q4_1, 4, 1, 0, false, 0, 32> {};
template <>
struct Rows8<Q5_0> : Rows8Layout<Rows8Kind::Q5_0, 4, 1, 0, false, 1, 32> {};
template <>
struct Rows8<Q5_1> : Rows8Layout<Rows8Kind::Q5_1, 4, 1, 0, false, 1, 32> {};

// The legacy formats with an offset: value = d * u - o, u unsigned (q5_0's stored q, o = 16 d; q4_1
// and q5_1's q, o = -m). Their block head is the 8 rows' f16 d, then the 8 rows' f16 o.
constexpr bool isLegacyOffset(Rows8Kind k) { return k == Rows8Kind::Q4_1 || k == Rows8Kind::Q5_0 || k == Rows8Kind::Q5_1; }

// iq4's and mxfp4's nibbles index a grid of int8 values (kIq4Values, kMxfp4Values).
constexpr bool isGrid4(Rows8Kind k) { return k == Rows8Kind::IQ4_NL || k == Rows8Kind::IQ4_XS || k == Rows8Kind::MXFP4; }
constexpr const int8_t* gridOf(Rows8Kind k) { return k == Rows8Kind::MXFP4 ? kMxfp4Values : kIq4Values; }

inline int8_t gridIndex(const int8_t* grid, int8_t value) {
  int i = 0;
  while (i < 15 && grid[i] != value) i++;
  return static_cast<int8_t>(i);
}

// q4_K and q5_K: two-level scales (a super-block's d and dmin, each block's 6-bit sc and m).
constexpr bool hasMins(Rows8Kind k) { return k == Rows8Kind::Q4_K || k == Rows8Kind::Q5_K; }

inline void putU16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Row r of a group from the source format's row (k elements).
template <class W>
void packRow8(const uint8_t* row, int r, uint8_t* group, int k) {
  using G = Rows8<W>;
  int8_t v[256];
  float s[16], o[16];
  for (int sb = 0; sb < k / 32 / G::kSuperBlocks; sb++) {
    uint8_t* sup = group + static_cast<size_t>(sb) * G::kSuperBytes;
    const uint8_t* src = row + static_cast<size_t>(sb) * W::kBlockBytes;
    W::decode(src, v, s, o);
    for (int j = 0; j < G::kSuperBlocks; j++) {
      uint8_t* blk = sup + G::kSuperHead + j * G::kPackedBlock;
      int8_t* vb = v + 32 * j;
      if constexpr (G::kKind == Rows8Kind::Q8_0 || G::kKind == Rows8Kind::Q4_0 || G::kKind == Rows8Kind::IQ4_NL) {
        std::memcpy(blk + 2 * r, src, 2);
        if constexpr (G::kKind == Rows8Kind::Q4_0) for (int i = 0; i < 32; i++) vb[i] = static_cast<int8_t>(vb[i] + 8);
      } else if constexpr (hasMins(G::kKind)) {
        // The 6-bit scale and min of sub-block j, as q4_K's 12 scale bytes hold them.
        const uint8_t* sc = src + 4;
        blk[r] = static_cast<uint8_t>(j < 4 ? sc[j] & 63 : (sc[j + 4] & 15) | ((sc[j - 4] >> 6) << 4));
        blk[8 + r] = static_cast<uint8_t>(j < 4 ? sc[j + 4] & 63 : (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4));
      } else if constexpr (isLegacyOffset(G::kKind)) {
        // The decoder's o is exactly representable in f16: -m, or 16 d (a power-of-two multiple).
        putU16(blk + 2 * r, loadU16(src));
        putU16(blk + 16 + 2 * r, floatToHalf(G::kKind == Rows8Kind::Q5_0 ? 16.0f * s[0] : o[0]));
        if constexpr (G::kKind == Rows8Kind::Q5_0) for (int i = 0; i < 32; i++) vb[i] = static_cast<int8_t>(vb[i] + 16);
      } else if constexpr (G::kKind == Rows8Kind::MXFP4) {
        blk[r] = src[0];
      } else if constexpr (G::kKind == Rows8Kind::IQ4_XS) {
        const int ls = ((src[4 + j / 2] >> (4 * (j & 1))) & 15) | (((loadU16(src + 2) >> (2 * j)) & 3) << 4);
        blk[r] = static_cast<uint8_t>(static_cast<int8_t>(ls - 32));
      } else if constexpr (G::kKind == Rows8Kind::Q3_K) {
        // Sixteen 6-bit scales in 12 bytes: low 4 bits in a nibble of bytes 0..7, top 2 in bytes 8..11.
        const uint8_t* sc = src + 96;
        for (int half = 0; half < 2; half++) {
          const int g = 2 * j + half, i = g & 3, quarter = g >> 2;
          const int low = (sc[(quarter & 1) * 4 + i] >> (quarter >= 2 ? 4 : 0)) & 15, high = (sc[8 + i] >> (2 * quarter)) & 3;
          blk[8 * half + r] = static_cast<uint8_t>(static_cast<int8_t>((low | (high << 4)) - 32));
        }
      } else {
        blk[r] = src[192 + 2 * j];
        blk[8 + r] = src[192 + 2 * j + 1];
      }
      if constexpr (scalesPer16(G::kKind)) for (int i = 0; i < 32; i++) vb[i] = static_cast<int8_t>(vb[i] + centre16(G::kKind));
      if constexpr (isGrid4(G::kKind)) for (int i = 0; i < 32; i++) vb[i] = gridIndex(gridOf(G::kKind), vb[i]);
      G::putValues(blk, r, vb);
    }
    if constexpr (hasMins(G::kKind)) {
      putU16(sup + 2 * r, loadU16(src));
      putU16(sup + 16 + 2 * r, loadU16(src + 2));
    } else if constexpr (G::kKind == Rows8Kind::Q6_K) {
      putU16(sup + 2 * r, loadU16(src + 208));
    } else if constexpr (G::kKind == Rows8Kind::Q3_K) {
      putU16(sup + 2 * r, loadU16(src + 108));
    } else if constexpr (G::kKind == Rows8Kind::IQ4_XS) {
      putU16(sup + 2 * r, loadU16(src));
    }
  }
}

// Row r's scale(s) and offset for block b: elements 0..15 scale sLo, 16..31 sHi; value = s * v - o.
template <class W>
void blockScales(const uint8_t* group, int b, int r, float& sLo, float& sHi, float& o) {
  using G = Rows8<W>;
  const uint8_t* sup = G::super(group, b);
  const uint8_t* blk = G::block(group, b);
  o = 0.0f;
  if constexpr (G::kKind == Rows8Kind::Q8_0 || G::kKind == Rows8Kind::Q4_0 || G::kKind == Rows8Kind::IQ4_NL) {
    sLo = sHi = halfToFloat(loadU16(blk + 2 * r));
    if constexpr (G::kKind == Rows8Kind::Q4_0) o = 8.0f * sLo;
  } else if constexpr (hasMins(G::kKind)) {
    sLo = sHi = halfToFloat(loadU16(sup + 2 * r)) * static_cast<float>(blk[r]);
    o = halfToFloat(loadU16(sup + 16 + 2 * r)) * static_cast<float>(blk[8 + r]);
  } else if constexpr (G::kKind == Rows8Kind::IQ4_XS) {
    sLo = sHi = halfToFloat(loadU16(sup + 2 * r)) * static_cast<float>(static_cast<int8_t>(blk[r]));
  } else if constexpr (G::kKind == Rows8Kind::MXFP4) {
    sLo = sHi = e8m0Half(blk[r]);
  } else if constexpr (isLegacyOffset(G::kKind)) {
    sLo = sHi = halfToFloat(loadU16(blk + 2 * r));
    o = halfToFloat(loadU16(blk + 16 + 2 * r));
  } else {
    const float d = halfToFloat(loadU16(sup + 2 * r));
    sLo = d * static_cast<float>(static_cast<int8_t>(blk[r]));
    sHi = d * static_cast<float>(static_cast<int8_t>(blk[8 + r]));
  }
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
