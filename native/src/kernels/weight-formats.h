// The weight formats as the kernels read them, on top of their sizes in formats.h.
#pragma once

#include "common.h"

namespace tsllm {
namespace TSLLM_ISA {

// Float formats expose load8 (8 consecutive elements as float) for the FMA kernel; block formats expose
// their layout (kBlockBytes; kUnsigned: q4_0's stored nibbles are value + 8) for the integer kernel,
// which reads them regrouped by packRows8. Every format has `get` (one element), the specification
// the vector paths are tested against.

struct F32 : F32Format {
  static float get(const uint8_t* row, int i) {
    float v;
    std::memcpy(&v, row + 4 * i, 4);
    return v;
  }
#if defined(__AVX2__)
  static __m256 load8(const uint8_t* row, int i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i); }
#endif
};

struct F16 : F16Format {
  static float get(const uint8_t* row, int i) { return halfToFloat(loadU16(row + 2 * i)); }
#if defined(__AVX2__)
  static __m256 load8(const uint8_t* row, int i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
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
};

// q8_0 block: f16 scale, 32 x int8.
struct Q8_0 : Q8_0Format {
  static constexpr bool kUnsigned = false;
  static float scale(const uint8_t* block) { return halfToFloat(loadU16(block)); }
  static int value(const uint8_t* block, int j) { return static_cast<int8_t>(block[2 + j]); }
  static float get(const uint8_t* row, int i) {
    const uint8_t* b = row + (i / 32) * kBlockBytes;
    return scale(b) * static_cast<float>(value(b, i % 32));
  }
};

// q4_0 block: f16 scale, 16 bytes; element j in the low nibble of byte j, element j + 16 in its high
// nibble; value = (nibble - 8) * scale.
struct Q4_0 : Q4_0Format {
  static constexpr bool kUnsigned = true;
  static float scale(const uint8_t* block) { return halfToFloat(loadU16(block)); }
  static int value(const uint8_t* block, int j) {
    const uint8_t q = block[2 + (j & 15)];
    return (j < 16 ? (q & 15) : (q >> 4)) - 8;
  }
  static float get(const uint8_t* row, int i) {
    const uint8_t* b = row + (i / 32) * kBlockBytes;
    return scale(b) * static_cast<float>(value(b, i % 32));
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
  }
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
