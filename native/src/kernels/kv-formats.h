// The KV-cache formats as the kernels read and write them, on top of their sizes in formats.h. Record
// layouts and rounding are specified in src/kernels/kv-cache-dtype.ts and
// src/kernels/reference/kv-quant.ts; writes are scalar (one token per sequence per step) and identical
// in every ISA, reads have vector paths.
//
// Cache layout per layer: [numBlocks, numKvHeads, blockSize] head records; slot = block * blockSize + offset.
#pragma once

#include "common.h"

namespace tsllm {
namespace TSLLM_ISA {

// Rounds away from zero to bf16, so dividing by the stored scale never leaves the quantized range.
inline uint16_t bf16RoundedUp(float x) {
  uint32_t b = bitsFromFp32(x);
  if (b & 0xffff) b += 0x10000;
  return static_cast<uint16_t>(b >> 16);
}

inline int roundHalfEven(float x) { return static_cast<int>(std::nearbyint(x)); }

inline float maxAbs(const float* x, int n) {
  float m = 0;
  for (int i = 0; i < n; i++) m = std::max(m, std::fabs(x[i]));
  return m;
}

// float32 -> OCP fp8, round to nearest even, saturating at the largest finite code.
template <int kMantBits, int kBias, uint32_t kMaxCode>
inline uint8_t encodeFp8(float x) {
  const uint32_t bits = bitsFromFp32(x);
  const uint32_t sign = (bits >> 24) & 0x80;
  const uint32_t abs = bits & 0x7fffffff;
  if (abs >= 0x7f800000) return static_cast<uint8_t>(sign | kMaxCode);
  const int exp32 = static_cast<int>(abs >> 23);
  if (exp32 == 0) return static_cast<uint8_t>(sign);
  const int e = exp32 - 127 + kBias;
  const bool normal = e >= 1;
  const uint32_t mant = normal ? (abs & 0x7fffff) : ((abs & 0x7fffff) | 0x800000);
  const int shift = 23 - kMantBits + (normal ? 0 : 1 - e);
  if (shift > 25) return static_cast<uint8_t>(sign);
  // A carry out of the mantissa steps the exponent up: still the right code.
  uint32_t code = (normal ? static_cast<uint32_t>(e) << kMantBits : 0) + (mant >> shift);
  const uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (code & 1))) code++;
  return static_cast<uint8_t>(sign | std::min(code, kMaxCode));
}

// Elements that attention reads in place, with no tile copy: f32 as it is, f16 and bf16 widened as they
// are loaded. The widening is exact, so the arithmetic is that of a widened tile to the bit.
struct Half { uint16_t bits; };
struct BHalf { uint16_t bits; };
inline float toFloat(float x) { return x; }
inline float toFloat(Half h) { return halfToFloat(h.bits); }
inline float toFloat(BHalf h) { return bf16ToFloat(h.bits); }
#if defined(__AVX2__)
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const Half* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256 load8(const BHalf* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}
#endif
#if defined(__AVX512F__)
// GCC 12's AVX-512 conversions start from a self-initialised "undefined" vector, which its
// -Wmaybe-uninitialized reports wherever they inline (GCC bug 105593, fixed in 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const Half* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline __m512 load16(const BHalf* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}
#endif

// Formats: headBytes(hd), write(record, x[hd]), read(out[hd], record) and readRun(out[n * hd], first of
// n consecutive records). Attention reads a format whose InPlace is an element type (f32, f16, bf16: no
// scale in the record, so a run of records is one array) where it lies; the others (InPlace = void) are
// dequantized one tile at a time.

struct KvF32 : KvF32Format {
  using InPlace = float;
  static void write(uint8_t* rec, const float* x, int hd) { std::memcpy(rec, x, static_cast<size_t>(hd) * 4); }
  static void read(float* out, const uint8_t* rec, int hd) { std::memcpy(out, rec, static_cast<size_t>(hd) * 4); }
  static void readRun(float* out, const uint8_t* rec, int hd, int n) { read(out, rec, hd * n); }
};

struct KvF16 : KvF16Format {
  using InPlace = Half;
  static void write(uint8_t* rec, const float* x, int hd) {
    for (int i = 0; i < hd; i++) { const uint16_t h = floatToHalf(x[i]); std::memcpy(rec + 2 * i, &h, 2); }
  }
  static void read(float* out, const uint8_t* rec, int hd) {
    int i = 0;
#if defined(__AVX2__)
    for (; i + 8 <= hd; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rec + 2 * i))));
#endif
    for (; i < hd; i++) out[i] = halfToFloat(loadU16(rec + 2 * i));
  }
  static void readRun(float* out, const uint8_t* rec, int hd, int n) { read(out, rec, hd * n); }
};

struct KvBF16 : KvBF16Format {
  using InPlace = BHalf;
  static void write(uint8_t* rec, const float* x, int hd) {
    for (int i = 0; i < hd; i++) { const uint16_t h = floatToBf16(x[i]); std::memcpy(rec + 2 * i, &h, 2); }
  }
  static void read(float* out, const uint8_t* rec, int hd) {
    int i = 0;
#if defined(__AVX2__)
    for (; i + 8 <= hd; i += 8) {
      const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rec + 2 * i)));
      _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
#endif
    for (; i < hd; i++) out[i] = bf16ToFloat(loadU16(rec + 2 * i));
  }
  static void readRun(float* out, const uint8_t* rec, int hd, int n) { read(out, rec, hd * n); }
};

// int8 and fp8 share a layout: hd codes, then the bf16 scale s (x = decode(code) * s).
template <class Code>
struct KvScaled8 : Code::Format {
  using Code::Format::headBytes;
  using InPlace = void;
  static void readRun(float* out, const uint8_t* rec, int hd, int n) {
    for (int r = 0; r < n; r++) read(out + static_cast<size_t>(r) * hd, rec + r * headBytes(hd), hd);
  }
  static void write(uint8_t* rec, const float* x, int hd) {
    const uint16_t sBits = bf16RoundedUp(maxAbs(x, hd) / Code::kMax);
    const float s = bf16ToFloat(sBits), inv = s != 0 ? 1.0f / s : 0.0f;
    for (int i = 0; i < hd; i++) rec[i] = Code::encode(x[i] * inv);
    std::memcpy(rec + hd, &sBits, 2);
  }
  static void read(float* out, const uint8_t* rec, int hd) {
    const float s = bf16ToFloat(loadU16(rec + hd));
    int i = 0;
#if defined(__AVX2__)
    const __m256 vs = _mm256_set1_ps(s * Code::kVectorScale);
    for (; i + 8 <= hd; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(Code::decode8(rec + i), vs));
#endif
    for (; i < hd; i++) out[i] = Code::decode(rec[i]) * s;
  }
};

struct Int8Code {
  using Format = KvInt8Format;
  static constexpr float kMax = 127.0f;
  static uint8_t encode(float x) { return static_cast<uint8_t>(static_cast<int8_t>(std::clamp(roundHalfEven(x), -127, 127))); }
  static float decode(uint8_t c) { return static_cast<float>(static_cast<int8_t>(c)); }
#if defined(__AVX2__)
  static constexpr float kVectorScale = 1.0f;
  static __m256 decode8(const uint8_t* p) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))); }
#endif
};

// e5m2 is the top byte of an IEEE half.
struct E5M2Code {
  using Format = KvFp8E5M2Format;
  static constexpr float kMax = 57344.0f;
  static uint8_t encode(float x) { return encodeFp8<2, 15, 0x7b>(x); }
  static float decode(uint8_t c) { return halfToFloat(static_cast<uint16_t>(c << 8)); }
#if defined(__AVX2__)
  static constexpr float kVectorScale = 1.0f;
  static __m256 decode8(const uint8_t* p) {
    const __m128i u = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_cvtph_ps(_mm_slli_epi16(u, 8));
  }
#endif
};

// e4m3's exponent and mantissa, shifted into a half's, read as a half 2^8 too small (bias 15 vs 7),
// subnormals included; the 2^8 is folded into the scale on the vector path.
struct E4M3Code {
  using Format = KvFp8E4M3Format;
  static constexpr float kMax = 448.0f;
  static uint8_t encode(float x) { return encodeFp8<3, 7, 0x7e>(x); }
  static float decode(uint8_t c) { return halfToFloat(static_cast<uint16_t>(((c & 0x80) << 8) | ((c & 0x7f) << 7))) * 256.0f; }
#if defined(__AVX2__)
  static constexpr float kVectorScale = 256.0f;
  static __m256 decode8(const uint8_t* p) {
    const __m128i u = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m128i h = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(u, _mm_set1_epi16(0x80)), 8),
                                   _mm_slli_epi16(_mm_and_si128(u, _mm_set1_epi16(0x7f)), 7));
    return _mm256_cvtph_ps(h);
  }
#endif
};

// int4: groups of G = 32 values (or the whole head), byte j of a group holding value j (low nibble)
// and j + G/2 (high); all groups' bytes, then one bf16 scale d per group: x = (q - 8) * d.
struct KvInt4 : KvInt4Format {
  using InPlace = void;
  static int group(int hd) { return scaleGroup(hd); }
  static void readRun(float* out, const uint8_t* rec, int hd, int n) {
    for (int r = 0; r < n; r++) read(out + static_cast<size_t>(r) * hd, rec + r * headBytes(hd), hd);
  }
  static void write(uint8_t* rec, const float* x, int hd) {
    const int g = group(hd);
    for (int g0 = 0; g0 < hd; g0 += g) {
      float amax = 0, max = 0;
      for (int j = 0; j < g; j++) {
        if (std::fabs(x[g0 + j]) > amax) { amax = std::fabs(x[g0 + j]); max = x[g0 + j]; }
      }
      const uint16_t dBits = bf16RoundedUp(max / -8.0f);
      const float d = bf16ToFloat(dBits), inv = d != 0 ? 1.0f / d : 0.0f;
      auto q = [&](float v) { return std::clamp(roundHalfEven(v * inv) + 8, 0, 15); };
      for (int j = 0; j < g / 2; j++) rec[g0 / 2 + j] = static_cast<uint8_t>(q(x[g0 + j]) | (q(x[g0 + g / 2 + j]) << 4));
      std::memcpy(rec + hd / 2 + (g0 / g) * 2, &dBits, 2);
    }
  }
  static void read(float* out, const uint8_t* rec, int hd) {
    const int g = group(hd);
    for (int g0 = 0; g0 < hd; g0 += g) {
      const float d = bf16ToFloat(loadU16(rec + hd / 2 + (g0 / g) * 2));
      const uint8_t* b = rec + g0 / 2;
#if defined(__AVX2__)
      if (g == 32) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
        const __m128i lo = _mm_sub_epi8(_mm_and_si128(bytes, _mm_set1_epi8(0x0f)), _mm_set1_epi8(8));
        const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0f)), _mm_set1_epi8(8));
        const __m256 vd = _mm256_set1_ps(d);
        auto put = [&](float* o, __m128i v8) { _mm256_storeu_ps(o, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v8)), vd)); };
        put(out + g0, lo);
        put(out + g0 + 8, _mm_srli_si128(lo, 8));
        put(out + g0 + 16, hi);
        put(out + g0 + 24, _mm_srli_si128(hi, 8));
        continue;
      }
#endif
      for (int j = 0; j < g / 2; j++) {
        out[g0 + j] = static_cast<float>((b[j] & 0x0f) - 8) * d;
        out[g0 + g / 2 + j] = static_cast<float>((b[j] >> 4) - 8) * d;
      }
    }
  }
};

using KvInt8 = KvScaled8<Int8Code>;
using KvFp8E4M3 = KvScaled8<E4M3Code>;
using KvFp8E5M2 = KvScaled8<E5M2Code>;

// Calls fn(Format{}) for the format of `dtype`.
template <class Fn>
void withKvFormat(KVDType dtype, Fn&& fn) {
  switch (dtype) {
    case KVDType::F32: return fn(KvF32{});
    case KVDType::F16: return fn(KvF16{});
    case KVDType::BF16: return fn(KvBF16{});
    case KVDType::FP8_E4M3: return fn(KvFp8E4M3{});
    case KVDType::FP8_E5M2: return fn(KvFp8E5M2{});
    case KVDType::INT8: return fn(KvInt8{});
    case KVDType::INT4: return fn(KvInt4{});
  }
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
