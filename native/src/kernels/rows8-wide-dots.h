// The integer dot products of one regrouped block (rows8-layouts.h) in 512-bit vectors, for the AVX-512
// build: two pieces a vector instead of one, so a block's dot is half the instructions it is in 256 bits.
// What comes out is the 256-bit vector the rest of the kernel scales, lane r holding row r's sum, with
// the same integer value as the 256-bit path gives, so outputs keep their bits.
//
// Pair p is pieces 2p and 2p+1 side by side (lanes 0-7, 8-15), which is where a 64-byte load of the
// packed block puts them: int8 pieces are 32 bytes apart, and a nibble load's low nibbles are pieces
// t, t+1 while its high nibbles are t+4, t+5. The activations' pair p is two of their 4-byte pieces,
// each broadcast to its half by one permute of the block's 32 bytes.
//
// Every weight goes in unsigned (dpbusd's first operand) and the offset comes off the sum exactly:
// q4_0's stored +8 as 8 x sum(x) (the eight-sums), q8_0's and the grids' +128 as 16 x the eight-sums.
// q6_K/q3_K keep their centre, which the kernel takes off in float per 16 values, and the K-quants'
// values are unsigned as stored.
#pragma once

#include "rows8-layouts.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define TSLLM_WIDE_DOTS 1

namespace tsllm {
namespace TSLLM_ISA {

// The formats this file handles: all but the legacy ones with an offset plane (q4_1, q5_0, q5_1).
template <class G>
constexpr bool wideDots() {
  return !isLegacyOffset(G::kKind);
}

// The permutes that spread the activations' pieces 2p, 2p+1 over the two halves.
struct PairIndex {
  __m512i idx[4];
  PairIndex() {
    for (int p = 0; p < 4; p++) {
      const int a = 2 * p, b = 2 * p + 1;
      idx[p] = _mm512_set_epi32(b, b, b, b, b, b, b, b, a, a, a, a, a, a, a, a);
    }
  }
};

inline __m256i foldHalves(__m512i v) { return _mm512_castsi512_si256(_mm512_add_epi32(v, _mm512_shuffle_i64x2(v, v, 0x4e))); }

// The block's 8 pieces as unsigned bytes, pair by pair.
template <class G>
inline void unsignedPairs(const uint8_t* body, __m512i u[4]) {
  constexpr Rows8Kind kind = G::kKind;
  const __m512i signFlip = _mm512_set1_epi8(static_cast<char>(0x80));
  if constexpr (G::kNibbles) {
    const __m512i low4 = _mm512_set1_epi8(15);
    TSLLM_UNROLL for (int h = 0; h < 2; h++) {
      const __m512i v = _mm512_loadu_si512(body + 64 * h);
      u[h] = _mm512_and_si512(v, low4);
      u[2 + h] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      if constexpr (G::kHighPlane) {
        // Plane half h serves pieces 2h (bits 0-3 of each byte) and 2h+1 (bits 4-7).
        const __m512i three = _mm512_set1_epi8(3);
        const __m512i plane = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(body + 128 + 32 * h)));
        const __m512i p = _mm512_srlv_epi64(plane, _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0));
        u[h] = _mm512_or_si512(u[h], _mm512_slli_epi16(_mm512_and_si512(p, three), 4));
        u[2 + h] = _mm512_or_si512(u[2 + h], _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(p, 2), three), 4));
      }
    }
    if constexpr (isGrid4(kind)) {
      const __m512i grid = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gridOf(kind)))), signFlip);
      TSLLM_UNROLL for (int p = 0; p < 4; p++) u[p] = _mm512_shuffle_epi8(grid, u[p]);
    }
  } else {
    TSLLM_UNROLL for (int p = 0; p < 4; p++) {
      u[p] = _mm512_loadu_si512(body + 64 * p);
      if constexpr (kind == Rows8Kind::Q8_0) u[p] = _mm512_xor_si512(u[p], signFlip);
    }
  }
}

// Row c's dots of the block against its activation quants xb (32 bytes): dot over elements 0..15 and
// dotHi over 16..31 where the format scales per 16 (else dot is the whole block), offsets taken off.
template <class G>
inline void wideBlockDot(const __m512i u[4], const PairIndex& pairs, const int8_t* xb, int32_t eightSum, __m256i& dot, __m256i& dotHi) {
  constexpr Rows8Kind kind = G::kKind;
  const __m512i xz = _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb)));
  __m512i x[4];
  TSLLM_UNROLL for (int p = 0; p < 4; p++) x[p] = _mm512_permutexvar_epi32(pairs.idx[p], xz);
  const __m512i zero = _mm512_setzero_si512();
  if constexpr (scalesPer16(kind)) {
    dot = foldHalves(_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, u[0], x[0]), u[1], x[1]));
    dotHi = foldHalves(_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, u[2], x[2]), u[3], x[3]));
  } else {
    const __m512i a = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, u[0], x[0]), u[1], x[1]);
    const __m512i b = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, u[2], x[2]), u[3], x[3]);
    dot = foldHalves(_mm512_add_epi32(a, b));
    if constexpr (kind == Rows8Kind::Q4_0) dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(eightSum));
    if constexpr (kind == Rows8Kind::Q8_0 || isGrid4(kind)) dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(16 * eightSum));
  }
}

}  // namespace TSLLM_ISA
}  // namespace tsllm

#else
#define TSLLM_WIDE_DOTS 0
#endif
