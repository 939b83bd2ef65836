// matmul on the block formats regrouped 8 rows at a time (all but q2_K; rows8-layouts.h).

#include "kernel-decls.h"
#include "rows8-layouts.h"
#include "rows8-wide-dots.h"

namespace tsllm {
namespace TSLLM_ISA {

// ---- quantized weights in groups of 8 rows -------------------------------------------------------------
// Weights regrouped once (packRows8, layouts in rows8-layouts.h) so that 8 consecutive rows sit side by
// side: the 8 rows' dot products come out as one vector, scaled by the 8 rows' scales as one vector,
// with no horizontal sums and no lane permutes, and each group is one sequential stream of memory,
// which decode reads at DRAM speed.
//
// Every output is one float chain over the blocks, acc += dot(block) x (weight scale x activation
// scale) [- offset x activation scale x sum of the block's activation quants], with the integer dot
// exact: a row's result has the same bits alone or in any batch.

constexpr int kPrefetchBytes = 4096;

// How far ahead a tile prefetches its groups. A batch's tiles work long enough on each block for a
// page ahead. A decode row streams: its lead must cover DRAM's latency at the rate the row consumes,
// so it is counted in blocks, and side by side groups (NG > 1) each take a share of it. Zen 5 VM,
// 2 threads, q4_K from DRAM, against 4 KiB: [11264, 2048] 51.7 -> 58.3 GB/s at 56 blocks,
// [2048, 5632] (three groups) 51.4 -> 57.6 at 16 a group; decode steps alternated one by one (median
// ratio of neighbours), Q4_K_M -2.5% and -3.7% step time in two runs, -1.3% Q6_K, -2.5% Q4_0; 80 and
// 24 blocks +3.2%, 40 and 12 +0.9% against 56 and 16.
template <class G, int C, int NG>
constexpr int prefetchBytes() {
  if constexpr (C > 1) return kPrefetchBytes;
  return (NG == 1 ? 56 : 16) * G::kPackedBlock;
}

#if defined(__AVX2__)
// Where a tile's prefetches put the weights. A decode row reads each line once, so its prefetches are
// non-temporal: on Zen 5 they then fill L1 and leave L2 and L3 to what a step reads again (activations,
// the KV cache). Zen 5 VM, 2 threads, whole 32-token decode runs alternated (median ratio of 12-16
// pairs) against prefetches into L2: Q4_K_M -1.3% and -5.8% step time, Q4_0 -7.9% (faster in 12 of
// 12), Q6_K +1.7% and -0.7% (noise), Q8_0's page kicks -1.4% and -3.5% (10 of 12 twice); into L1
// (T0) Q4_K_M +3.7% against non-temporal, Q8_0 -0.8% (noise). Decode steps alternated one by one
// mislead here: each step finds the cache the other variant left. A batch's tiles read a weight chunk
// once per panel of rows, so theirs go to L2. (A batch's one-row tiles take the decode hint, but only
// its last panel has them, the last to read each chunk: panels are multiples of 4 rows.)
template <int C>
constexpr auto prefetchHint() {
  return C == 1 ? _MM_HINT_NTA : _MM_HINT_T1;
}
#endif

// q8_0, the format with the least work per byte, prefetches only the first line of each 4 KiB page a page
// ahead and leaves the rest of the page to the hardware prefetcher, which stops at page boundaries and
// otherwise keeps up; the line-by-line prefetches cost q8_0 a quarter of its speed from cache. Zen 5, 2
// threads, from DRAM, alternating: q8_0 matrices [5632, 2048] 43.9 -> 58.2 GB/s, [2048, 5632] 40.3 ->
// 42.1; a Q8_0 TinyLlama decode step 38.7 -> 45.9 tok/s. The same kick made q4_K and q6_K (more work
// per byte) 5-33% slower per matrix and q4_0 +15% at k = 2048 but -12% at k = 5632; Q4_K_M decode -14%,
// Q4_0 -4%.
template <class G>
constexpr bool prefetchesPages() {
  return G::kKind == Rows8Kind::Q8_0;
}

// A decode row against long weight rows takes three groups at a time (then two, then one), each
// activation piece loaded once for all of them: with k >= 4096 (a down projection) a single group
// streamed 10-25% slower per byte than with k = 2048. Zen 5, 2 threads, from DRAM, k = 5632: pairs
// took q8_0 36 -> 42 GB/s, q4_K 36 -> 40, q6_K 37 -> 44; triples then q8_0 +4-10%, q6_K +17-23%, q4_K
// the same, four groups less. At k = 2048 pairs lost 10-15%. Same chain per output, same bits.
constexpr int kSideBySideMinK = 4096;

#if defined(__AVX2__)
// A decode unit's tiles prefetch prefetchBytes ahead of the block they work on, so the unit's own first
// prefetchBytes (of each of its NG side by side groups) would come in as demand misses one after
// another: a thread's first unit of a call took ~1.7x a later one (rdtsc per unit, q4_K [2048, 2048],
// Zen 5 VM). One burst of prefetches at the unit's start covers that stretch; later units of the same
// stream find it prefetched already. Decode steps alternated one by one (median ratio of neighbours):
// Q4_K_M -2.5% (two runs), Q6_K -1.3%, Q4_0 -1.1%; half or twice the stretch +2-3% against it. q8_0,
// whose tiles leave the stream to the hardware prefetcher (prefetchesPages), ran 3-5% slower with it.
template <class W, int NG>
inline void prefetchUnitStart(const uint8_t* group, size_t gBytes) {
  using G = Rows8<W>;
  if constexpr (!prefetchesPages<G>()) {
    TSLLM_UNROLL for (int g = 0; g < NG; g++)
      for (int at = 0; at < prefetchBytes<G, 1, NG>(); at += 64) _mm_prefetch(reinterpret_cast<const char*>(group + g * gBytes + at), prefetchHint<1>());
  }
}
#endif

template <class W>
void packRows8T(ThreadPool& pool, uint8_t* dst, const uint8_t* w, int n, int k) {
  const int groups = (n + kGroupRows - 1) / kGroupRows;
  const size_t stride = W::bytes(k), groupBytes = Rows8<W>::groupBytes(k);
  pool.run(groups, [&](int g, int) {
    uint8_t* d = dst + g * groupBytes;
    std::memset(d, 0, groupBytes);
    for (int r = 0; r < kGroupRows && g * kGroupRows + r < n; r++) packRow8<W>(w + static_cast<size_t>(g * kGroupRows + r) * stride, r, d, k);
  });
}

void packRows8(ThreadPool& pool, uint8_t* dst, const uint8_t* w, DType dtype, int n, int k) {
  switch (dtype) {
    case DType::Q8_0: return packRows8T<Q8_0>(pool, dst, w, n, k);
    case DType::Q4_0: return packRows8T<Q4_0>(pool, dst, w, n, k);
    case DType::Q4_K: return packRows8T<Q4_K>(pool, dst, w, n, k);
    case DType::Q5_K: return packRows8T<Q5_K>(pool, dst, w, n, k);
    case DType::Q6_K: return packRows8T<Q6_K>(pool, dst, w, n, k);
    case DType::Q3_K: return packRows8T<Q3_K>(pool, dst, w, n, k);
    case DType::IQ4_NL: return packRows8T<IQ4_NL>(pool, dst, w, n, k);
    case DType::Q4_1: return packRows8T<Q4_1>(pool, dst, w, n, k);
    case DType::Q5_0: return packRows8T<Q5_0>(pool, dst, w, n, k);
    case DType::Q5_1: return packRows8T<Q5_1>(pool, dst, w, n, k);
    case DType::IQ4_XS: return packRows8T<IQ4_XS>(pool, dst, w, n, k);
    case DType::MXFP4: return packRows8T<MXFP4>(pool, dst, w, n, k);
    default: return;
  }
}

// out[c][0 .. valid) for C activation rows against one group: xq, xd, xs and xs16 are row 0's quants,
// scales, eight-sums (see quantizeActivationRow) and offset terms (see matmulRows8: per 16 values for
// q6_K/q3_K, per block for the formats with an offset), rows k, k / 32, k / 32 and k / 16 apart.
// NG > 1 (SIMD builds, see kSideBySideMinK) takes the next groups too, the last one's out[c][8 (NG - 1) ..
// 8 (NG - 1) + valid): the others whole.
template <class W, int C, int NG = 1>
void tileRows8(const uint8_t* group, const int8_t* xq, const float* xd, const int32_t* xs, const float* xs16, int k, float* out,
               int n, int valid, const float* bias) {
  const int nb = k / 32;
  using G = Rows8<W>;
#if defined(__AVX2__)
  constexpr Rows8Kind kind = G::kKind;
  const size_t gBytes = G::groupBytes(k);
  // Two chains per output where a block adds two terms (the offsets', or q6_K/q3_K's second half),
  // joined at the end: one chain waits on two FMA latencies a block, four for q6_K, which bounded it
  // from cache (Zen 5, 2 threads, q6_K [5632, 2048] from L3: 82 -> 95 GB/s; q4_K unchanged).
  __m256 acc[NG][C], acc2[NG][C];
  TSLLM_UNROLL for (int g = 0; g < NG; g++)
    TSLLM_UNROLL for (int c = 0; c < C; c++) acc[g][c] = acc2[g][c] = _mm256_setzero_ps();
  [[maybe_unused]] const __m256i ones = _mm256_set1_epi16(1);
  __m256 dSuper[NG], mSuper[NG];
  TSLLM_UNROLL for (int g = 0; g < NG; g++) dSuper[g] = mSuper[g] = _mm256_setzero_ps();
#if TSLLM_WIDE_DOTS
  const PairIndex pairs;
#endif
  for (int b = 0; b < nb; b++) {
    TSLLM_UNROLL for (int g = 0; g < NG; g++) {
      const uint8_t* blk = G::block(group + g * gBytes, b);
      const uint8_t* body = blk + G::kBlockHead;
      // The group is one sequential stream, yet prefetching it ahead still gains 10-20% in decode: the
      // hardware prefetcher ramps up slowly and stops at 4 KiB pages. prefetchBytes ahead: on Zen 5,
      // model-shaped q8_0 matmuls streamed 8-10% faster than with 2 KiB ahead (same process,
      // alternating), batch-1 decode 5 points closer to the read bandwidth; where to, prefetchHint.
      // q8_0 kicks pages only (prefetchesPages).
      if constexpr (prefetchesPages<G>()) {
        const uintptr_t ahead = reinterpret_cast<uintptr_t>(blk) + kPrefetchBytes;
        const uintptr_t page = (ahead + G::kPackedBlock - 1) & ~static_cast<uintptr_t>(4095);
        if (page >= ahead) _mm_prefetch(reinterpret_cast<const char*>(page), prefetchHint<C>());
      } else {
        TSLLM_UNROLL for (int line = 0; line < G::kPackedBlock; line += 64) {
          _mm_prefetch(reinterpret_cast<const char*>(blk) + prefetchBytes<G, C, NG>() + line, prefetchHint<C>());
        }
      }
      if constexpr (G::kSuperBlocks > 1) {
        if (b % G::kSuperBlocks == 0) {
          const uint8_t* sup = G::super(group + g * gBytes, b);
          dSuper[g] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sup)));
          if constexpr (hasMins(kind)) mSuper[g] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sup + 16)));
        }
      }
      // The 8 rows' scales for this block (elements 0..15 and 16..31 differ for q6_K) and offsets (q4_K).
      __m256 sLo, sHi, off = _mm256_setzero_ps();
      auto bytes8 = [blk](int at) { return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + at)); };
      if constexpr (hasMins(kind)) {
        sLo = sHi = _mm256_mul_ps(dSuper[g], _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes8(0))));
        off = _mm256_mul_ps(mSuper[g], _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes8(8))));
      } else if constexpr (kind == Rows8Kind::IQ4_XS) {
        sLo = sHi = _mm256_mul_ps(dSuper[g], _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes8(0))));
      } else if constexpr (kind == Rows8Kind::MXFP4) {
        // E8M0 e as a float's exponent field is 2^(e - 127), halved; e = 0 (2^-128) reads as 0.
        sLo = sHi = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu8_epi32(bytes8(0)), 23)), _mm256_set1_ps(0.5f));
      } else if constexpr (isLegacyOffset(kind)) {
        sLo = sHi = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk)));
        off = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 16)));
      } else if constexpr (scalesPer16(kind)) {
        sLo = _mm256_mul_ps(dSuper[g], _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes8(0))));
        sHi = _mm256_mul_ps(dSuper[g], _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes8(8))));
      } else {
        sLo = sHi = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk)));
      }
      const int8_t* xb = xq + b * 32;
      auto piece = [xb, k](int c, int t) {
        int32_t v;
        std::memcpy(&v, xb + static_cast<size_t>(c) * k + 4 * t, 4);
        return _mm256_set1_epi32(v);
      };
      __m256i dot[C], dotHi[C];
  #if TSLLM_WIDE_DOTS
      if constexpr (wideDots<G>()) {
        __m512i u[4];
        unsignedPairs<G>(body, u);
        TSLLM_UNROLL for (int c = 0; c < C; c++) {
          wideBlockDot<G>(u, pairs, xb + static_cast<size_t>(c) * k, xs[static_cast<size_t>(c) * nb + b], dot[c], dotHi[c]);
        }
      } else
  #endif
      if constexpr (scalesPer16(kind)) {
        // Six bits 0..63 (q6_K as stored, from the nibbles and the top-bit plane) or three (q3_K's q + 4),
        // the centre coming off below, against int8. VNNI's dpbusd takes them unsigned as they are;
        // maddubs pairs reach 2 x 63 x 127, so two pieces at a time add up in int16 before widening.
        const __m256i low4 = _mm256_set1_epi8(15);
        __m256i uLo[4], uHi[4];
        TSLLM_UNROLL for (int t = 0; t < 4; t++) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(body + 32 * t));
          uLo[t] = _mm256_and_si256(v, low4);
          uHi[t] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
          if constexpr (G::kHighPlane) {
            const __m256i three = _mm256_set1_epi8(3);
            const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(body + 128 + 32 * (t / 2)));
            const __m256i h = t % 2 ? _mm256_srli_epi16(p, 4) : p;
            uLo[t] = _mm256_or_si256(uLo[t], _mm256_slli_epi16(_mm256_and_si256(h, three), 4));
            uHi[t] = _mm256_or_si256(uHi[t], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), three), 4));
          }
        }
        TSLLM_UNROLL for (int c = 0; c < C; c++) {
  #if TSLLM_VNNI
          dot[c] = dotHi[c] = _mm256_setzero_si256();
          TSLLM_UNROLL for (int t = 0; t < 4; t++) {
            dot[c] = dpbusd(dot[c], uLo[t], piece(c, t));
            dotHi[c] = dpbusd(dotHi[c], uHi[t], piece(c, t + 4));
          }
  #else
          auto pair = [&](const __m256i* u, int t0, int x0) {
            return _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(u[t0], piece(c, x0)), _mm256_maddubs_epi16(u[t0 + 1], piece(c, x0 + 1))), ones);
          };
          dot[c] = _mm256_add_epi32(pair(uLo, 0, 0), pair(uLo, 2, 2));
          dotHi[c] = _mm256_add_epi32(pair(uHi, 0, 4), pair(uHi, 2, 6));
  #endif
        }
      } else if constexpr (isLegacyOffset(kind)) {
        // Nibbles (and q5's fifth bits from their plane), unsigned 0..31: dpbusd's unsigned operand; with
        // maddubs a pair reaches 2 x 31 x 127, so four pieces at a time add up in int16.
        const __m256i low4 = _mm256_set1_epi8(15);
        __m256i u[8];
        [[maybe_unused]] __m256i plane = _mm256_setzero_si256();
        if constexpr (G::kFifthPlane) plane = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(body + 128));
        TSLLM_UNROLL for (int t = 0; t < 4; t++) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(body + 32 * t));
          u[t] = _mm256_and_si256(v, low4);
          u[t + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
          if constexpr (G::kFifthPlane) {
            const __m256i one = _mm256_set1_epi8(1);
            u[t] = _mm256_or_si256(u[t], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(plane, 2 * t), one), 4));
            u[t + 4] = _mm256_or_si256(u[t + 4], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(plane, 2 * t + 1), one), 4));
          }
        }
        TSLLM_UNROLL for (int c = 0; c < C; c++) {
  #if TSLLM_VNNI
          dot[c] = dpbusd(_mm256_setzero_si256(), u[0], piece(c, 0));
          TSLLM_UNROLL for (int t = 1; t < 8; t++) dot[c] = dpbusd(dot[c], u[t], piece(c, t));
  #else
          __m256i a = _mm256_maddubs_epi16(u[0], piece(c, 0)), h = _mm256_maddubs_epi16(u[4], piece(c, 4));
          TSLLM_UNROLL for (int t = 1; t < 4; t++) {
            a = _mm256_add_epi16(a, _mm256_maddubs_epi16(u[t], piece(c, t)));
            h = _mm256_add_epi16(h, _mm256_maddubs_epi16(u[t + 4], piece(c, t + 4)));
          }
          dot[c] = _mm256_add_epi32(_mm256_madd_epi16(a, ones), _mm256_madd_epi16(h, ones));
  #endif
        }
      } else if constexpr (isGrid4(kind)) {
        // Nibbles index the grid (pshufb within each 128-bit lane, the grid in both), then int8 x int8
        // as below; |grid| <= 127, so a maddubs pair cannot saturate.
        const __m256i low4 = _mm256_set1_epi8(15);
        const __m256i grid = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gridOf(kind))));
        __m256i wv[8], aw[8];
        TSLLM_UNROLL for (int t = 0; t < 4; t++) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(body + 32 * t));
          wv[t] = _mm256_shuffle_epi8(grid, _mm256_and_si256(v, low4));
          wv[t + 4] = _mm256_shuffle_epi8(grid, _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
        }
        TSLLM_UNROLL for (int t = 0; t < 8; t++) aw[t] = _mm256_sign_epi8(wv[t], wv[t]);
        TSLLM_UNROLL for (int c = 0; c < C; c++) {
          dot[c] = _mm256_setzero_si256();
          TSLLM_UNROLL for (int t = 0; t < 8; t++) {
  #if TSLLM_VNNI
            dot[c] = dpbusd(dot[c], aw[t], _mm256_sign_epi8(piece(c, t), wv[t]));
  #else
            dot[c] = _mm256_add_epi32(dot[c], _mm256_madd_epi16(_mm256_maddubs_epi16(aw[t], _mm256_sign_epi8(piece(c, t), wv[t])), ones));
  #endif
          }
        }
      } else if constexpr (G::kNibbles) {
        // Nibbles 0..15 against int8: a pair of products is at most 2 x 15 x 127, so eight pieces add up
        // in int16 without saturating. q4_0's stored +8 comes off as 8 x sum(x), exactly.
        const __m256i low4 = _mm256_set1_epi8(15);
        __m256i wv[8];
        TSLLM_UNROLL for (int t = 0; t < 4; t++) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(body + 32 * t));
          wv[t] = _mm256_and_si256(v, low4);
          wv[t + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
        }
        TSLLM_UNROLL for (int c = 0; c < C; c++) {
  #if TSLLM_VNNI
          // The nibbles are dpbusd's unsigned operand as they are: one instruction per piece.
          dot[c] = dpbusd(_mm256_setzero_si256(), wv[0], piece(c, 0));
          TSLLM_UNROLL for (int t = 1; t < 8; t++) dot[c] = dpbusd(dot[c], wv[t], piece(c, t));
  #else
          __m256i s16 = _mm256_maddubs_epi16(wv[0], piece(c, 0));
          TSLLM_UNROLL for (int t = 1; t < 8; t++) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(wv[t], piece(c, t)));
          dot[c] = _mm256_madd_epi16(s16, ones);
  #endif
          if constexpr (kind == Rows8Kind::Q4_0) dot[c] = _mm256_sub_epi32(dot[c], _mm256_set1_epi32(xs[static_cast<size_t>(c) * nb + b]));
        }
      } else {
        TSLLM_UNROLL for (int c = 0; c < C; c++) dot[c] = _mm256_setzero_si256();
  #if TSLLM_VNNI
        // dpbusd's unsigned operand: q5_K's values 0..31 as they are, q8_0's flipped to q + 128 (one xor
        // per piece, shared by the C rows), its 128 x sum(x) = 16 x the eight-sums coming off after.
        TSLLM_UNROLL for (int t = 0; t < 8; t++) {
          __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(body + 32 * t));
          if constexpr (kind == Rows8Kind::Q8_0) u = _mm256_xor_si256(u, _mm256_set1_epi8(static_cast<char>(0x80)));
          TSLLM_UNROLL for (int c = 0; c < C; c++) dot[c] = dpbusd(dot[c], u, piece(c, t));
        }
        if constexpr (kind == Rows8Kind::Q8_0) {
          TSLLM_UNROLL for (int c = 0; c < C; c++) dot[c] = _mm256_sub_epi32(dot[c], _mm256_set1_epi32(16 * xs[static_cast<size_t>(c) * nb + b]));
        }
  #else
        // int8 x int8 through maddubs: |w| x (x with w's sign), whose pairs cannot saturate
        // (2 x 128 x 127 < 32767), widened to int32 per piece.
        TSLLM_UNROLL for (int t = 0; t < 8; t++) {
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(body + 32 * t));
          const __m256i aw = _mm256_sign_epi8(wv, wv);
          TSLLM_UNROLL for (int c = 0; c < C; c++) {
            dot[c] = _mm256_add_epi32(dot[c], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(piece(c, t), wv)), ones));
          }
        }
  #endif
      }
      TSLLM_UNROLL for (int c = 0; c < C; c++) {
        const __m256 dx = _mm256_broadcast_ss(xd + static_cast<size_t>(c) * nb + b);
        if constexpr (scalesPer16(kind)) {
          // Each half: scale x (dot x dx - the centre x the activations' scaled sum), in its own chain.
          const float* s16 = xs16 + static_cast<size_t>(c) * (k / 16) + 2 * b;
          acc[g][c] = _mm256_fmadd_ps(sLo, _mm256_fmsub_ps(_mm256_cvtepi32_ps(dot[c]), dx, _mm256_broadcast_ss(s16)), acc[g][c]);
          acc2[g][c] = _mm256_fmadd_ps(sHi, _mm256_fmsub_ps(_mm256_cvtepi32_ps(dotHi[c]), dx, _mm256_broadcast_ss(s16 + 1)), acc2[g][c]);
        } else {
          acc[g][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[c]), _mm256_mul_ps(sLo, dx), acc[g][c]);
        }
        if constexpr (hasMins(kind) || isLegacyOffset(kind)) {
          acc2[g][c] = _mm256_fmadd_ps(off, _mm256_broadcast_ss(xs16 + static_cast<size_t>(c) * (k / 16) + b), acc2[g][c]);
        }
      }
      (void)sHi;
    }
  }
  TSLLM_UNROLL for (int g = 0; g < NG; g++)
    TSLLM_UNROLL for (int c = 0; c < C; c++) {
      if constexpr (scalesPer16(kind)) acc[g][c] = _mm256_add_ps(acc[g][c], acc2[g][c]);
      if constexpr (hasMins(kind) || isLegacyOffset(kind)) acc[g][c] = _mm256_sub_ps(acc[g][c], acc2[g][c]);
    }
  // Every group but the last is whole (see matmulRows8).
  TSLLM_UNROLL for (int g = 0; g + 1 < NG; g++) {
    const __m256 bv = bias ? _mm256_loadu_ps(bias + g * kGroupRows) : _mm256_setzero_ps();
    TSLLM_UNROLL for (int c = 0; c < C; c++) _mm256_storeu_ps(out + static_cast<size_t>(c) * n + g * kGroupRows, _mm256_add_ps(acc[g][c], bv));
  }
  if (valid == kGroupRows) {
    const __m256 bv = bias ? _mm256_loadu_ps(bias + (NG - 1) * kGroupRows) : _mm256_setzero_ps();
    TSLLM_UNROLL for (int c = 0; c < C; c++) _mm256_storeu_ps(out + static_cast<size_t>(c) * n + (NG - 1) * kGroupRows, _mm256_add_ps(acc[NG - 1][c], bv));
    return;
  }
  out += (NG - 1) * kGroupRows;
  if (bias) bias += (NG - 1) * kGroupRows;
  alignas(32) float v[C][kGroupRows];
  TSLLM_UNROLL for (int c = 0; c < C; c++) _mm256_store_ps(v[c], acc[NG - 1][c]);
#else
  static_assert(NG == 1, "groups side by side only in the SIMD builds");
  (void)xs;
  (void)xs16;
  float v[C][kGroupRows] = {};
  int8_t q[32];
  for (int b = 0; b < nb; b++) {
    for (int r = 0; r < kGroupRows; r++) {
      float sLo, sHi, o;
      blockScales<W>(group, b, r, sLo, sHi, o);
      G::values(G::block(group, b), r, q);
      if constexpr (scalesPer16(G::kKind)) for (int i = 0; i < 32; i++) q[i] = static_cast<int8_t>(q[i] - centre16(G::kKind));
      if constexpr (isGrid4(G::kKind)) for (int i = 0; i < 32; i++) q[i] = gridOf(G::kKind)[q[i]];
      for (int c = 0; c < C; c++) {
        const int8_t* xb = xq + static_cast<size_t>(c) * k + b * 32;
        int32_t lo = 0, hi = 0, sum = 0;
        for (int j = 0; j < 16; j++) lo += q[j] * xb[j];
        for (int j = 16; j < 32; j++) hi += q[j] * xb[j];
        for (int j = 0; j < 32; j++) sum += xb[j];
        const float dx = xd[static_cast<size_t>(c) * nb + b];
        v[c][r] += (sLo * static_cast<float>(lo) + sHi * static_cast<float>(hi)) * dx - o * (dx * static_cast<float>(sum));
      }
    }
  }
#endif
  for (int c = 0; c < C; c++)
    for (int r = 0; r < valid; r++) out[static_cast<size_t>(c) * n + r] = v[c][r] + (bias ? bias[r] : 0.0f);
}

// tile on activation row r's quants, scales, eight-sums and offset terms, its outputs from column j.
template <class Tile>
inline void tileAt(Tile tile, const uint8_t* group, const QuantizedActivations& xa, int r, int k, float* out, int n, int j,
                   int valid, const float* bj) {
  const int nb = k / 32;
  tile(group, xa.q + static_cast<size_t>(r) * k, xa.d + static_cast<size_t>(r) * nb, xa.m + static_cast<size_t>(r) * nb,
       xa.sums16 + static_cast<size_t>(r) * (k / 16), k, out + static_cast<size_t>(r) * n + j, n, valid, bj);
}

// One group against activation rows [r0, r1), four rows at a time: q8_0's 4 int32 and 4 float
// accumulators, or q4_0's 8 unpacked pieces and 4 float accumulators, leave registers for the
// temporaries. (Six rows spill a few registers and measured the same.)
template <class W>
void groupRows(const uint8_t* group, const QuantizedActivations& xa, int r0, int r1, int k, float* out, int n, int j,
               int valid, const float* bj) {
  auto run = [&](auto tile, int r) { tileAt(tile, group, xa, r, k, out, n, j, valid, bj); };
  int r = r0;
  for (; r + 4 <= r1; r += 4) run(tileRows8<W, 4>, r);
  switch (r1 - r) {
    case 3: run(tileRows8<W, 3>, r); break;
    case 2: run(tileRows8<W, 2>, r); break;
    case 1: run(tileRows8<W, 1>, r); break;
    default: break;
  }
}

template <class W>
void matmulRows8(ThreadPool& pool, float* out, const float* x, const uint8_t* w, int n, int k, int rows, const float* bias,
                 QuantizedActivations xa) {
  const int nb = k / 32;
  auto quantize = [&](int r) {
    int8_t* q = xa.q + static_cast<size_t>(r) * k;
    float* d = xa.d + static_cast<size_t>(r) * nb;
    quantizeActivationRow(x + static_cast<size_t>(r) * k, k, q, d, xa.m + static_cast<size_t>(r) * nb);
    // What the kernel takes off per block, computed once per row instead of once per group of 8 weight
    // rows: the centre x the scaled sums per 16 (q6_K, q3_K), or the block's scaled activation sum
    // (formats with an offset), float for float as the kernel used to form them.
#if defined(__AVX2__)
    float* off = xa.sums16 + static_cast<size_t>(r) * (k / 16);
    if constexpr (scalesPer16(Rows8<W>::kKind)) {
      activationSums16(q, d, k, off);
      for (int g = 0; g < k / 16; g++) off[g] *= static_cast<float>(centre16(Rows8<W>::kKind));
    } else if constexpr (hasMins(Rows8<W>::kKind) || isLegacyOffset(Rows8<W>::kKind)) {
      const int32_t* eightSums = xa.m + static_cast<size_t>(r) * nb;
      for (int b = 0; b < nb; b++) off[b] = d[b] * (0.125f * static_cast<float>(eightSums[b]));
    }
#endif
  };
  if (rows <= 2) {
    for (int r = 0; r < rows; r++) quantize(r);
  } else {
    pool.run(rows, [&](int r, int) { quantize(r); });
  }
  const size_t groupBytes = Rows8<W>::groupBytes(k);
  // Activation rows [r0, r1) against weight rows [n0, n1).
  auto block = [&](int r0, int r1, int n0, int n1) {
    int j = n0;
#if defined(__AVX2__)
    if (r1 - r0 == 1 && k < kSideBySideMinK) prefetchUnitStart<W, 1>(w + (j / kGroupRows) * groupBytes, groupBytes);
    if (r1 - r0 == 1 && k >= kSideBySideMinK) {
      prefetchUnitStart<W, 3>(w + (j / kGroupRows) * groupBytes, groupBytes);
      auto side = [&](auto tile, int groups) {
        for (; j + (groups - 1) * kGroupRows < n1; j += groups * kGroupRows) {
          tileAt(tile, w + (j / kGroupRows) * groupBytes, xa, r0, k, out, n, j, std::min(kGroupRows, n1 - j - (groups - 1) * kGroupRows),
                 bias ? bias + j : nullptr);
        }
      };
      side(tileRows8<W, 1, 3>, 3);
      side(tileRows8<W, 1, 2>, 2);
    }
#endif
    for (; j < n1; j += kGroupRows) {
      groupRows<W>(w + (j / kGroupRows) * groupBytes, xa, r0, r1, k, out, n, j, std::min(kGroupRows, n1 - j), bias ? bias + j : nullptr);
    }
  };
  // Two triples of groups a unit (see kSideBySideMinK).
  if (rows == 1 && static_cast<int64_t>(n) * k >= kMinTaskMacs * pool.size()) {
    runShares(pool, n, kGroupRows, 6 * kGroupRows, [&](int n0, int n1) { block(0, 1, n0, n1); });
    return;
  }
  const WeightChunks wc = weightChunks(pool, n, k, rows, kGroupRows);
  const int panels = (rows + kPanelRows - 1) / kPanelRows, chunks = wc.count();
  pool.run(panels * chunks, [&](int task, int) {
    const int panel = task / chunks, chunk = task % chunks;
    const int r0 = panel * kPanelRows;
    block(r0, std::min(rows, r0 + kPanelRows), wc.start[chunk], wc.start[chunk + 1]);
  });
}


template void matmulRows8<Q8_0>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<Q4_0>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<Q4_K>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<Q5_K>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<Q4_1>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<Q5_0>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<Q5_1>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<IQ4_NL>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<MXFP4>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<IQ4_XS>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<Q3_K>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
template void matmulRows8<Q6_K>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);

}  // namespace TSLLM_ISA
}  // namespace tsllm
