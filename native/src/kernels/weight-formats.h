// The weight formats as the kernels read them, on top of their sizes in formats.h.
#pragma once

#include "common.h"

namespace tsllm {
namespace TSLLM_ISA {

// Float formats expose load8 (8 consecutive elements as float; load16, 16 of them, in the AVX-512
// build) for the FMA kernel; block formats `decode` (below), which packRows8 and the row-at-a-time
// kernel read. Every format has `get` (one element).

struct F32 : F32Format {
  static float get(const uint8_t* row, int i) {
    float v;
    std::memcpy(&v, row + 4 * i, 4);
    return v;
  }
#if defined(__AVX2__)
  static __m256 load8(const uint8_t* row, int i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i); }
#endif
#if defined(__AVX512F__)
  static __m512 load16(const uint8_t* row, int i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i); }
#endif
};

struct F16 : F16Format {
  static float get(const uint8_t* row, int i) { return halfToFloat(loadU16(row + 2 * i)); }
#if defined(__AVX2__)
  static __m256 load8(const uint8_t* row, int i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  }
#endif
#if defined(__AVX512F__)
  static __m512 load16(const uint8_t* row, int i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  }
#endif
};

struct BF16 : BF16Format {
  static float get(const uint8_t* row, int i) { return bf16ToFloat(loadU16(row + 2 * i)); }
#if defined(__AVX2__)
  static __m256 load8(const uint8_t* row, int i) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
  }
#endif
#if defined(__AVX512F__)
  static __m512 load16(const uint8_t* row, int i) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
  }
#endif
};

// ---- block formats ----------------------------------------------------------------------------------
// Each decodes a block to a small integer per element (v) and per 16 elements a float scale s and
// offset o: element i is s[i / 16] * v[i] - o[i / 16], each format's own formula once its super-block
// scales are applied (src/kernels/block-decoders.ts is the specification, bit for bit llama.cpp's
// dequantize_row_*). The integer kernel (matmul-blocks.cc) multiplies v by quantized activations.

// The low nibble of byte j is element j, its high nibble element j + 16; `high` holds fifth bits.
inline void decodeNibbles(const uint8_t* qs, int8_t* v, int bias, uint32_t high) {
  for (int j = 0; j < 16; j++) {
    v[j] = static_cast<int8_t>((qs[j] & 15) + (((high >> j) << 4) & 16) - bias);
    v[j + 16] = static_cast<int8_t>((qs[j] >> 4) + ((high >> (j + 12)) & 16) - bias);
  }
}

inline void scale32(float* s, float* o, float d, float m) {
  s[0] = s[1] = d;
  o[0] = o[1] = m;
}

inline uint32_t loadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

template <class Self>
struct BlockFormat {
  static float get(const uint8_t* row, int i) {
    int8_t v[Self::kBlockSize];
    float s[Self::kBlockSize / 16], o[Self::kBlockSize / 16];
    Self::decode(row + static_cast<size_t>(i / Self::kBlockSize) * Self::kBlockBytes, v, s, o);
    const int j = i % Self::kBlockSize;
    return s[j / 16] * static_cast<float>(v[j]) - o[j / 16];
  }
};

// q8_0: f16 scale, 32 x int8.
struct Q8_0 : Q8_0Format, BlockFormat<Q8_0> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    std::memcpy(v, b + 2, 32);
    scale32(s, o, halfToFloat(loadU16(b)), 0.0f);
  }
};

// q4_0: f16 scale, 16 bytes of nibbles; value = (nibble - 8) * scale.
struct Q4_0 : Q4_0Format, BlockFormat<Q4_0> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    decodeNibbles(b + 2, v, 8, 0);
    scale32(s, o, halfToFloat(loadU16(b)), 0.0f);
  }
};

// q4_1: d, m (f16), nibbles; q * d + m.
struct Q4_1 : Q4_1Format, BlockFormat<Q4_1> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    decodeNibbles(b + 4, v, 0, 0);
    scale32(s, o, halfToFloat(loadU16(b)), -halfToFloat(loadU16(b + 2)));
  }
};

// q5_0: d, qh (u32 of fifth bits), nibbles; (q - 16) * d.
struct Q5_0 : Q5_0Format, BlockFormat<Q5_0> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    decodeNibbles(b + 6, v, 16, loadU32(b + 2));
    scale32(s, o, halfToFloat(loadU16(b)), 0.0f);
  }
};

// q5_1: d, m, qh, nibbles; q * d + m.
struct Q5_1 : Q5_1Format, BlockFormat<Q5_1> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    decodeNibbles(b + 8, v, 0, loadU32(b + 4));
    scale32(s, o, halfToFloat(loadU16(b)), -halfToFloat(loadU16(b + 2)));
  }
};

constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// iq4_nl: d, nibbles indexing a non-linear grid; d * grid[q].
struct IQ4_NL : IQ4_NLFormat, BlockFormat<IQ4_NL> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    for (int j = 0; j < 16; j++) {
      v[j] = kIq4Values[b[2 + j] & 15];
      v[j + 16] = kIq4Values[b[2 + j] >> 4];
    }
    scale32(s, o, halfToFloat(loadU16(b)), 0.0f);
  }
};

// mxfp4: E2M1 codes doubled to integers (ggml's kvalues_mxfp4: 0, 0.5, 1, 1.5, 2, 3, 4, 6 times 2,
// then the same negated), so the E8M0 exponent e becomes the scale 2^(e - 128).
constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

inline float e8m0Half(uint8_t e) { return std::ldexp(1.0f, static_cast<int>(e) - 128); }

struct MXFP4 : MXFP4Format, BlockFormat<MXFP4> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    for (int j = 0; j < 16; j++) {
      v[j] = kMxfp4Values[b[1 + j] & 15];
      v[j + 16] = kMxfp4Values[b[1 + j] >> 4];
    }
    scale32(s, o, e8m0Half(b[0]), 0.0f);
  }
};

// q2_K: scales[16] (low nibble scale, high nibble min, per 16), qs[64] (2 bits), d, dmin.
struct Q2_K : Q2_KFormat, BlockFormat<Q2_K> {
#if defined(__AVX2__)
  // Half h's eight groups of 16: scales d * (sc & 15) and offsets dmin * (sc >> 4). Shared with the
  // in-register decode row (matmul-blocks.cc), so both form the same floats.
  static void scales8(const uint8_t* b, int h, __m256 vd, __m256 vm, __m256& s, __m256& o) {
    const __m256i sc = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 8 * h)));
    s = _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_and_si256(sc, _mm256_set1_epi32(15))));
    o = _mm256_mul_ps(vm, _mm256_cvtepi32_ps(_mm256_srli_epi32(sc, 4)));
  }
  // Elements 128c + 32j + l are bits 2j, 2j+1 of byte l of the c-th 32 bytes of qs (q): a shift and a
  // mask per 32 (decoded an element at a time, decode matmuls ran at ~1.5 GB/s).
  static __m256i values32(__m256i q, int j) { return _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), _mm256_set1_epi8(3)); }
#endif
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    const float d = halfToFloat(loadU16(b + 80)), dmin = halfToFloat(loadU16(b + 82));
#if defined(__AVX2__)
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(dmin);
    for (int h = 0; h < 2; h++) {
      __m256 sh, oh;
      scales8(b, h, vd, vm, sh, oh);
      _mm256_storeu_ps(s + 8 * h, sh);
      _mm256_storeu_ps(o + 8 * h, oh);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16 + 32 * h));
      for (int j = 0; j < 4; j++) _mm256_storeu_si256(reinterpret_cast<__m256i*>(v + 128 * h + 32 * j), values32(q, j));
    }
#else
    for (int g = 0; g < 16; g++) {
      s[g] = d * static_cast<float>(b[g] & 15);
      o[g] = dmin * static_cast<float>(b[g] >> 4);
    }
    for (int c = 0; c < 2; c++)
      for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++) v[128 * c + 32 * j + l] = static_cast<int8_t>((b[16 + 32 * c + l] >> (2 * j)) & 3);
#endif
  }
};

// q3_K: hmask[32] (high bits), qs[64] (low 2 bits), scales[12] (sixteen 6-bit), d; d * (sc - 32) *
// (q - 4 where the high bit is clear).
struct Q3_K : Q3_KFormat, BlockFormat<Q3_K> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    const float d = halfToFloat(loadU16(b + 108));
    const uint8_t* sc = b + 96;
    for (int g = 0; g < 16; g++) {
      const int i = g & 3, quarter = g >> 2;
      const int low = (sc[(quarter & 1) * 4 + i] >> (quarter >= 2 ? 4 : 0)) & 15;
      const int high = (sc[8 + i] >> (2 * quarter)) & 3;
      s[g] = d * static_cast<float>((low | (high << 4)) - 32);
      o[g] = 0.0f;
      const int half = 16 * (g & 1), j = (g >> 1) & 3;
      const uint8_t* q = b + 32 + 32 * (g >> 3) + half;
      const uint8_t* hm = b + half;
      const uint8_t bit = static_cast<uint8_t>(1 << (4 * (g >> 3) + j));
      for (int l = 0; l < 16; l++) v[16 * g + l] = static_cast<int8_t>(((q[l] >> (2 * j)) & 3) - ((hm[l] & bit) ? 0 : 4));
    }
  }
};

// q4_K and q5_K: d, dmin, 12 bytes of eight 6-bit scales and mins, [q5_K: qh[32]], qs[128]; per 32,
// d * sc * q - dmin * m. Each 64 elements are the low then the high nibbles of 32 bytes.
template <bool kFifthBit>
inline void decodeKQuant(const uint8_t* b, int8_t* v, float* s, float* o) {
  const float d = halfToFloat(loadU16(b)), dmin = halfToFloat(loadU16(b + 2));
  const uint8_t* sc = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + (kFifthBit ? 48 : 16);
  for (int c = 0; c < 8; c++) {
    int scale, min;
    if (c < 4) {
      scale = sc[c] & 63;
      min = sc[c + 4] & 63;
    } else {
      scale = (sc[c + 4] & 15) | ((sc[c - 4] >> 6) << 4);
      min = (sc[c + 4] >> 4) | ((sc[c] >> 6) << 4);
    }
    s[2 * c] = s[2 * c + 1] = d * static_cast<float>(scale);
    o[2 * c] = o[2 * c + 1] = dmin * static_cast<float>(min);
    const uint8_t* q = qs + 32 * (c >> 1);
    const int shift = 4 * (c & 1);
    for (int l = 0; l < 32; l++) {
      const int high = kFifthBit ? ((qh[l] >> c) & 1) << 4 : 0;
      v[32 * c + l] = static_cast<int8_t>(((q[l] >> shift) & 15) + high);
    }
  }
}

struct Q4_K : Q4_KFormat, BlockFormat<Q4_K> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) { decodeKQuant<false>(b, v, s, o); }
};

struct Q5_K : Q5_KFormat, BlockFormat<Q5_K> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) { decodeKQuant<true>(b, v, s, o); }
};

// q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] int8, d; (d * sc) * (q - 32).
struct Q6_K : Q6_KFormat, BlockFormat<Q6_K> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    const float d = halfToFloat(loadU16(b + 208));
    for (int g = 0; g < 16; g++) {
      s[g] = d * static_cast<float>(static_cast<int8_t>(b[192 + g]));
      o[g] = 0.0f;
    }
    for (int n = 0; n < 2; n++) {
      const uint8_t* ql = b + 64 * n;
      const uint8_t* qh = b + 128 + 32 * n;
      int8_t* y = v + 128 * n;
      for (int l = 0; l < 32; l++) {
        y[l] = static_cast<int8_t>(((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32);
        y[l + 32] = static_cast<int8_t>(((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32);
        y[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        y[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
  }
};

// iq4_xs: d, scales_h (u16), scales_l[4], qs[128]; per 32, d * (ls - 32) * grid[q], ls 6 bits.
struct IQ4_XS : IQ4_XSFormat, BlockFormat<IQ4_XS> {
  static void decode(const uint8_t* b, int8_t* v, float* s, float* o) {
    const float d = halfToFloat(loadU16(b));
    const int sh = loadU16(b + 2);
    for (int ib = 0; ib < 8; ib++) {
      const int ls = ((b[4 + ib / 2] >> (4 * (ib & 1))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
      s[2 * ib] = s[2 * ib + 1] = d * static_cast<float>(ls - 32);
      o[2 * ib] = o[2 * ib + 1] = 0.0f;
      const uint8_t* qs = b + 8 + 16 * ib;
      for (int j = 0; j < 16; j++) {
        v[32 * ib + j] = kIq4Values[qs[j] & 15];
        v[32 * ib + j + 16] = kIq4Values[qs[j] >> 4];
      }
    }
  }
};

template <class Fn>
void dispatchDType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::F32: fn(F32{}); break;
    case DType::F16: fn(F16{}); break;
    case DType::BF16: fn(BF16{}); break;
    case DType::Q8_0: fn(Q8_0{}); break;
    case DType::Q4_0: fn(Q4_0{}); break;
    case DType::Q4_1: fn(Q4_1{}); break;
    case DType::Q5_0: fn(Q5_0{}); break;
    case DType::Q5_1: fn(Q5_1{}); break;
    case DType::Q2_K: fn(Q2_K{}); break;
    case DType::Q3_K: fn(Q3_K{}); break;
    case DType::Q4_K: fn(Q4_K{}); break;
    case DType::Q5_K: fn(Q5_K{}); break;
    case DType::Q6_K: fn(Q6_K{}); break;
    case DType::IQ4_NL: fn(IQ4_NL{}); break;
    case DType::IQ4_XS: fn(IQ4_XS{}); break;
    case DType::MXFP4: fn(MXFP4{}); break;
  }
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
