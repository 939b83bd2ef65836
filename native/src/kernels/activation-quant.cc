// Activations quantized per block of 32 for the integer dot products.

#include "kernel-decls.h"

namespace tsllm {
namespace TSLLM_ISA {

// ---- activation quantization ------------------------------------------------------------------------
// x[k] -> q[k] int8 and d[k/32]: per block of 32, d = max|x| / 127 and q = round(x / d), the
// activation side of every integer dot product. With AVX2, m[k/32] also holds 8 x the sum of each
// block's q: the term that q4_0's unsigned nibbles (stored value + 8) subtract.

void quantizeActivationRow(const float* x, int k, int8_t* q, float* d, int32_t* eightSums) {
  for (int b = 0; b < k / 32; b++) {
    const float* xb = x + b * 32;
#if defined(__AVX2__)
    const __m256 signBit = _mm256_set1_ps(-0.0f);
    __m256 v[4], amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; j++) {
      v[j] = _mm256_loadu_ps(xb + 8 * j);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(signBit, v[j]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float scale = _mm_cvtss_f32(m) / 127.0f;
    d[b] = scale;
    const __m256 inv = _mm256_set1_ps(scale != 0.0f ? 1.0f / scale : 0.0f);
    __m256i i32[4];
    for (int j = 0; j < 4; j++) i32[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[j], inv), _MM_FROUND_TO_NEAREST_INT));
    // packs interleave 128-bit lanes; the permute puts the 32 bytes back in order.
    const __m256i i16a = _mm256_packs_epi32(i32[0], i32[1]);
    const __m256i i16b = _mm256_packs_epi32(i32[2], i32[3]);
    const __m256i i8 = _mm256_packs_epi16(i16a, i16b);
    const __m256i qv = _mm256_permutevar8x32_epi32(i8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * 32), qv);
    const __m256i eightX = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), qv), _mm256_set1_epi16(1));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(eightX), _mm256_extracti128_si256(eightX, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    eightSums[b] = _mm_cvtsi128_si32(s);
#else
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = std::max(amax, std::fabs(xb[j]));
    const float scale = amax / 127.0f;
    const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
    d[b] = scale;
    for (int j = 0; j < 32; j++) q[b * 32 + j] = static_cast<int8_t>(std::nearbyint(xb[j] * inv));
    (void)eightSums;
#endif
  }
}

// Per 16 values, the sum of their quants times the block's scale: block formats with offsets (q4_K's
// mins, q4_1's m) take offset x this off the integer dot, so the product is the dequantized weights
// times the quantized activations exactly as for the other formats. (The float sum of x instead would
// add offset x the activations' rounding, which does not cancel: 2-3x llama.cpp's error on q4_1.)
void activationSums16(const int8_t* q, const float* d, int k, float* sums) {
  for (int g = 0; g < k / 16; g++) {
    int32_t t = 0;
    for (int j = 0; j < 16; j++) t += q[16 * g + j];
    sums[g] = d[g / 2] * static_cast<float>(t);
  }
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
