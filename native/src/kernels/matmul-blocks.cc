// matmul on block formats read as stored (q2_K): each weight
// row is decoded once per task (weight-formats.h: small integers v, and per 16 elements a scale s and
// offset o), then dotted with every activation row of the panel, quantized per block of 32; a panel of
// one row (decode) takes the weight row decoded in registers instead.

#include <type_traits>

#include "kernel-decls.h"
#include "weight-formats.h"

namespace tsllm {
namespace TSLLM_ISA {

#if defined(__AVX2__)
// Per int32 lane, the dot of four unsigned weight bytes with four signed activation bytes (lanes 0-3
// hold a block's elements 0..15, lanes 4-7 its 16..31).
inline __m256i dotBytes(__m256i u, __m256i s) {
#if TSLLM_VNNI
  return dpbusd(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}
#endif

// ---- one decoded weight row . one quantized activation row --------------------------------------------
// sum over blocks c of 32: xd[c] * (s[2c] * dot(v, xq) over elements 0..15 + s[2c+1] * ... 16..31), with
// the integer dots exact, minus sum over groups g of 16: o[g] * xd * (sum of xq over g). The float
// operations run in one fixed order whatever the batch, so a row's result has the same bits alone or
// in any batch. q2_K's values are unsigned, so they are the unsigned operand of the byte dot as they
// are; `pairs` holds each block's two scales spread over the int32 lanes of its dot (dotBytes), formed
// once per weight row for every activation row of the panel
// (against sign-adjusting the values and permuting the scales per block for each activation row:
// [512, 2048] x [2048, 5632] 102 -> 137 GFLOP/s, Zen 5, 2 threads).
inline float dotDecoded(const int8_t* v, const float* s, const float* pairs, const float* o, const int8_t* xq, const float* xd,
                        const float* sums16, int k) {
  const int nb = k / 32, ng = k / 16;
#if defined(__AVX2__)
  (void)s;
  __m256 acc = _mm256_setzero_ps();
  for (int c = 0; c < nb; c++) {
    const __m256i p = dotBytes(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + 32 * c)),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * c)));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(_mm256_loadu_ps(pairs + 8 * c), _mm256_set1_ps(xd[c])), acc);
  }
  __m256 off = _mm256_setzero_ps();
  int g = 0;
  for (; g + 8 <= ng; g += 8) off = _mm256_fmadd_ps(_mm256_loadu_ps(o + g), _mm256_loadu_ps(sums16 + g), off);
  float offset = hsum(off);
  for (; g < ng; g++) offset += o[g] * sums16[g];
  return hsum(acc) - offset;
#else
  (void)pairs;
  float acc = 0.0f;
  for (int c = 0; c < nb; c++) {
    int32_t lo = 0, hi = 0;
    for (int j = 0; j < 16; j++) lo += v[32 * c + j] * xq[32 * c + j];
    for (int j = 16; j < 32; j++) hi += v[32 * c + j] * xq[32 * c + j];
    acc += (s[2 * c] * static_cast<float>(lo) + s[2 * c + 1] * static_cast<float>(hi)) * xd[c];
  }
  float offset = 0.0f;
  for (int g = 0; g < ng; g++) offset += o[g] * sums16[g];
  return acc - offset;
#endif
}

#if defined(__AVX2__)
// A q2_K row . one activation row with the row decoded in registers, not stored: the integer dots are
// the same numbers (q2_K's values are unsigned, so they go straight into the unsigned operand), and the
// float operations those of decodeRow + dotDecoded in the same order, so a row's bits do not depend on
// which of the two computes it. A Q2_K TinyLlama decodes 26 -> 38-42 tok/s (Zen 5, 2 threads,
// alternating processes) against decoding each row to memory first.
inline float dotQ2KRow(const uint8_t* row, int k, const int8_t* xq, const float* xd, const float* sums16) {
  __m256 acc = _mm256_setzero_ps(), off = _mm256_setzero_ps();
  for (int blk = 0; blk < k / 256; blk++) {
    const uint8_t* b = row + static_cast<size_t>(blk) * Q2_K::kBlockBytes;
    const __m256 vd = _mm256_set1_ps(halfToFloat(loadU16(b + 80))), vm = _mm256_set1_ps(halfToFloat(loadU16(b + 82)));
    for (int h = 0; h < 2; h++) {
      __m256 s, o;
      Q2_K::scales8(b, h, vd, vm, s, o);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16 + 32 * h));
      TSLLM_UNROLL for (int j = 0; j < 4; j++) {
        const int c = 8 * blk + 4 * h + j;
        const __m256i p = dotBytes(Q2_K::values32(q, j), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * c)));
        const __m256 pair = _mm256_permutevar8x32_ps(s, _mm256_setr_epi32(2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(pair, _mm256_set1_ps(xd[c])), acc);
      }
      off = _mm256_fmadd_ps(o, _mm256_loadu_ps(sums16 + 16 * blk + 8 * h), off);
    }
  }
  return hsum(acc) - hsum(off);
}
#endif

template <class W>
void decodeRow(const uint8_t* row, int k, int8_t* v, float* s, float* o) {
  for (int b = 0; b < k / W::kBlockSize; b++) {
    W::decode(row + static_cast<size_t>(b) * W::kBlockBytes, v + b * W::kBlockSize, s + b * (W::kBlockSize / 16),
              o + b * (W::kBlockSize / 16));
  }
}

template <class W>
void matmulBlocks(ThreadPool& pool, float* out, const float* x, const uint8_t* w, int n, int k, int rows, const float* bias,
                  QuantizedActivations xa) {
  const int nb = k / 32, ng = k / 16;
  auto quantize = [&](int r) {
    const float* xr = x + static_cast<size_t>(r) * k;
    int8_t* q = xa.q + static_cast<size_t>(r) * k;
    float* d = xa.d + static_cast<size_t>(r) * nb;
    quantizeActivationRow(xr, k, q, d, xa.m + static_cast<size_t>(r) * nb);
    activationSums16(q, d, k, xa.sums16 + static_cast<size_t>(r) * ng);
  };
  if (rows <= 2) {
    for (int r = 0; r < rows; r++) quantize(r);
  } else {
    pool.run(rows, [&](int r, int) { quantize(r); });
  }
  const size_t stride = W::bytes(k);
  const WeightChunks wc = weightChunks(pool, n, k, rows, 1);
  const int panels = (rows + kPanelRows - 1) / kPanelRows, chunks = wc.count();
  pool.run(panels * chunks, [&](int task, int) {
    const int panel = task / chunks, chunk = task % chunks;
    const int r0 = panel * kPanelRows, r1 = std::min(rows, r0 + kPanelRows);
    const int n0 = wc.start[chunk], n1 = wc.start[chunk + 1];
#if defined(__AVX2__)
    if constexpr (std::is_same_v<W, Q2_K>) {
      if (r1 - r0 == 1) {
        for (int j = n0; j < n1; j++) {
          out[static_cast<size_t>(r0) * n + j] = dotQ2KRow(w + static_cast<size_t>(j) * stride, k, xa.q + static_cast<size_t>(r0) * k,
                                                           xa.d + static_cast<size_t>(r0) * nb, xa.sums16 + static_cast<size_t>(r0) * ng) + (bias ? bias[j] : 0.0f);
        }
        return;
      }
    }
#endif
    // Scratch slots hold floats; the int8 values take k / 4 of them.
    int8_t* v = reinterpret_cast<int8_t*>(threadScratch(0, static_cast<size_t>(k) / 4 + 8));
    float* s = threadScratch(1, ng);
    float* o = threadScratch(2, ng);
    float* pairs = threadScratch(3, static_cast<size_t>(nb) * 8);
    for (int j = n0; j < n1; j++) {
      decodeRow<W>(w + static_cast<size_t>(j) * stride, k, v, s, o);
#if defined(__AVX2__)
      for (int c = 0; c < nb; c++)
        for (int l = 0; l < 8; l++) pairs[8 * c + l] = s[2 * c + (l >> 2)];
#endif
      const float b = bias ? bias[j] : 0.0f;
      for (int r = r0; r < r1; r++) {
        out[static_cast<size_t>(r) * n + j] = dotDecoded(v, s, pairs, o, xa.q + static_cast<size_t>(r) * k, xa.d + static_cast<size_t>(r) * nb,
                                                         xa.sums16 + static_cast<size_t>(r) * ng, k) + b;
      }
    }
  });
}

#define TSLLM_INSTANTIATE(W) \
  template void matmulBlocks<W>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*, QuantizedActivations);
TSLLM_INSTANTIATE(Q2_K)
#undef TSLLM_INSTANTIATE

}  // namespace TSLLM_ISA
}  // namespace tsllm
