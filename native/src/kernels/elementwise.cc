// Element-wise and row ops: norms, RoPE, activations, residual adds, embedding lookup, and the row
// gathers and weighted scatter-adds of sampling and mixture-of-experts layers.

#include "kernel-decls.h"
#include "weight-formats.h"

namespace tsllm {
namespace TSLLM_ISA {

void rmsNorm(ThreadPool& pool, float* out, const float* x, const float* gain, int rows, int dim, float eps) {
  parallelRows(pool, rows, dim, [&](int r) {
    const float* xr = x + static_cast<size_t>(r) * dim;
    float* o = out + static_cast<size_t>(r) * dim;
    // The sum of squares in double, as the reference; four lanes of it with AVX2.
    double ss = 0;
    int i = 0;
#if defined(__AVX2__)
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    for (; i + 8 <= dim; i += 8) {
      const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(xr + i)), hi = _mm256_cvtps_pd(_mm_loadu_ps(xr + i + 4));
      acc0 = _mm256_add_pd(acc0, _mm256_mul_pd(lo, lo));
      acc1 = _mm256_add_pd(acc1, _mm256_mul_pd(hi, hi));
    }
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, _mm256_add_pd(acc0, acc1));
    ss = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
    for (; i < dim; i++) ss += static_cast<double>(xr[i]) * xr[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / dim + eps));
    i = 0;
#if defined(__AVX2__)
    const __m256 vinv = _mm256_set1_ps(inv);
    for (; i + 8 <= dim; i += 8) _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vinv), _mm256_loadu_ps(gain + i)));
#endif
    for (; i < dim; i++) o[i] = xr[i] * inv * gain[i];
  });
}

void layerNorm(ThreadPool& pool, float* out, const float* x, const float* gain, const float* bias, int rows, int dim,
               float eps) {
  parallelRows(pool, rows, dim, [&](int r) {
    const float* xr = x + static_cast<size_t>(r) * dim;
    float* o = out + static_cast<size_t>(r) * dim;
    double mean = 0, var = 0;
    for (int i = 0; i < dim; i++) mean += xr[i];
    mean /= dim;
    for (int i = 0; i < dim; i++) var += (xr[i] - mean) * (xr[i] - mean);
    const double inv = 1.0 / std::sqrt(var / dim + eps);
    for (int i = 0; i < dim; i++) o[i] = static_cast<float>((xr[i] - mean) * inv) * gain[i] + bias[i];
  });
}

// cosSin holds, per position, the rotaryDim / 2 cosines then the sines (built by the caller, once per
// position, exactly as the reference computes them).
void rope(ThreadPool& pool, float* x, const int32_t* positions, int rows, int numHeads, int headDim, int style,
          int rotaryDim, const float* cosSin) {
  const int half = rotaryDim / 2;
  // Captured by value: through references, every store to x could alias the shape, which the compiler
  // would then reload for every head.
  parallelRows(pool, rows, numHeads * headDim, [=](int r) {
    const float* cosv = cosSin + static_cast<size_t>(positions[r]) * rotaryDim;
    const float* sinv = cosv + half;
    for (int h = 0; h < numHeads; h++) {
      float* v = x + (static_cast<size_t>(r) * numHeads + h) * headDim;
      int i = 0;
#if defined(__AVX2__)
      if (style == 0) {
        for (; i + 8 <= half; i += 8) {
          const __m256 c = _mm256_loadu_ps(cosv + i), s = _mm256_loadu_ps(sinv + i);
          const __m256 x0 = _mm256_loadu_ps(v + i), x1 = _mm256_loadu_ps(v + i + half);
          _mm256_storeu_ps(v + i, _mm256_sub_ps(_mm256_mul_ps(x0, c), _mm256_mul_ps(x1, s)));
          _mm256_storeu_ps(v + i + half, _mm256_add_ps(_mm256_mul_ps(x1, c), _mm256_mul_ps(x0, s)));
        }
        // Small heads (a half of 4, as in a head of 8): the same products four at a time.
        for (; i + 4 <= half; i += 4) {
          const __m128 c = _mm_loadu_ps(cosv + i), s = _mm_loadu_ps(sinv + i);
          const __m128 x0 = _mm_loadu_ps(v + i), x1 = _mm_loadu_ps(v + i + half);
          _mm_storeu_ps(v + i, _mm_sub_ps(_mm_mul_ps(x0, c), _mm_mul_ps(x1, s)));
          _mm_storeu_ps(v + i + half, _mm_add_ps(_mm_mul_ps(x1, c), _mm_mul_ps(x0, s)));
        }
      }
#endif
      for (; i < half; i++) {
        const int a = style == 0 ? i : 2 * i, b = style == 0 ? i + half : 2 * i + 1;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * cosv[i] - x1 * sinv[i];
        v[b] = x1 * cosv[i] + x0 * sinv[i];
      }
    }
  });
}

void siluMul(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n) {
  parallelRange(pool, n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    int64_t i = i0;
#if defined(__AVX2__)
    // silu(g) = g * sigmoid(g), with sigmoid from e = e^-|g| (never overflows): 1 / (1 + e) for g >= 0,
    // e / (1 + e) below.
    const __m256 one = _mm256_set1_ps(1.0f), signBit = _mm256_set1_ps(-0.0f);
    for (; i + 8 <= i1; i += 8) {
      const __m256 g = _mm256_loadu_ps(gate + i);
      const __m256 e = expNonPositive(_mm256_or_ps(g, signBit));
      const __m256 numerator = _mm256_blendv_ps(one, e, g);  // the sign bit of g picks e
      const __m256 sigmoid = _mm256_div_ps(numerator, _mm256_add_ps(one, e));
      _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(g, sigmoid), _mm256_loadu_ps(up + i)));
    }
    for (; i < i1; i++) {
      const float g = gate[i], e = expNonPositiveScalar(-std::fabs(g));
      out[i] = g * ((std::signbit(g) ? e : 1.0f) / (1.0f + e)) * up[i];
    }
#else
    for (; i < i1; i++) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
#endif
  });
}

#if defined(__AVX2__)
// tanh(u) = sign(u) (1 - e) / (1 + e) with e = e^(-2|u|) (never overflows). std::tanh one element at a
// time was 5 ms of Gemma-2-2B's 78 ms decode step in GeGLU, and 4 ms in the final soft-cap.
inline __m256 tanhVec(__m256 u) {
  const __m256 one = _mm256_set1_ps(1.0f), signBit = _mm256_set1_ps(-0.0f);
  const __m256 e = expNonPositive(_mm256_mul_ps(_mm256_set1_ps(-2.0f), _mm256_andnot_ps(signBit, u)));
  return _mm256_or_ps(_mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e)), _mm256_and_ps(signBit, u));
}

// tanhVec for one value, operation for operation: an element's bits must not depend on whether the
// batch puts it in a vector or in a tail.
inline float tanhScalar(float u) {
  const float e = expNonPositiveScalar(-2.0f * std::fabs(u));
  return std::copysign((1.0f - e) / (1.0f + e), u);
}
#endif

// GPT-2's gelu_new alone (up null), or Gemma's GeGLU gate.
void geluMul(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n) {
  parallelRange(pool, n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    int64_t i = i0;
#if defined(__AVX2__)
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    const __m256 c0 = _mm256_set1_ps(0.7978845608028654f), c1 = _mm256_set1_ps(0.044715f);
    for (; i + 8 <= i1; i += 8) {
      const __m256 v = _mm256_loadu_ps(gate + i);
      const __m256 u = _mm256_mul_ps(c0, _mm256_fmadd_ps(_mm256_mul_ps(c1, v), _mm256_mul_ps(v, v), v));
      const __m256 g = _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, tanhVec(u)));
      _mm256_storeu_ps(out + i, up ? _mm256_mul_ps(g, _mm256_loadu_ps(up + i)) : g);
    }
    for (; i < i1; i++) {
      const float v = gate[i];
      const float g = (0.5f * v) * (1.0f + tanhScalar(0.7978845608028654f * std::fma(0.044715f * v, v * v, v)));
      out[i] = up ? g * up[i] : g;
    }
#else
    for (; i < i1; i++) {
      const float v = gate[i];
      const float g = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
      out[i] = up ? g * up[i] : g;
    }
#endif
  });
}

void softcap(ThreadPool& pool, float* x, int64_t n, float cap) {
  parallelRange(pool, n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    int64_t i = i0;
#if defined(__AVX2__)
    const __m256 c = _mm256_set1_ps(cap), inv = _mm256_set1_ps(1.0f / cap);
    for (; i + 8 <= i1; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(c, tanhVec(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv))));
    for (; i < i1; i++) x[i] = cap * tanhScalar(x[i] * (1.0f / cap));
#else
    for (; i < i1; i++) x[i] = cap * std::tanh(x[i] / cap);
#endif
  });
}

// gpt-oss's SwiGLU: gate clamped above and up on both sides at limit, (up + 1) * g * sigmoid(1.702 g).
void clampedSwiglu(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n, float limit) {
  parallelRange(pool, n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const float g = std::min(gate[i], limit), u = std::clamp(up[i], -limit, limit);
      out[i] = (u + 1.0f) * (g / (1.0f + std::exp(-(g * 1.702f))));
    }
  });
}

void add(ThreadPool& pool, float* x, const float* y, int64_t n) {
  parallelRange(pool, n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) x[i] += y[i];
  });
}

template <class W>
void dequantizeRow(const uint8_t* row, int k, float* out) {
  if constexpr (W::kQuantized) {
    int8_t v[W::kBlockSize];
    float s[W::kBlockSize / 16], o[W::kBlockSize / 16];
    for (int b = 0; b < k / W::kBlockSize; b++) {
      W::decode(row + static_cast<size_t>(b) * W::kBlockBytes, v, s, o);
      float* y = out + static_cast<size_t>(b) * W::kBlockSize;
      for (int i = 0; i < W::kBlockSize; i++) y[i] = s[i / 16] * static_cast<float>(v[i]) - o[i / 16];
    }
  } else {
    for (int i = 0; i < k; i++) out[i] = W::get(row, i);
  }
}

void embedding(ThreadPool& pool, float* out, const uint8_t* table, DType dtype, int dim, const int32_t* ids, int rows) {
  dispatchDType(dtype, [&](auto fmt) {
    using W = decltype(fmt);
    const size_t stride = W::bytes(dim);
    parallelRows(pool, rows, dim, [&](int r) { dequantizeRow<W>(table + ids[r] * stride, dim, out + static_cast<size_t>(r) * dim); });
  });
}

void gatherRows(ThreadPool& pool, float* out, const float* x, const int32_t* ids, int n, int dim) {
  const size_t d = static_cast<size_t>(dim);
  parallelRows(pool, n, dim, [&](int i) { std::memcpy(out + i * d, x + static_cast<size_t>(ids[i]) * d, d * sizeof(float)); });
}

// In double, as the reference adds a float64 routing weight times a float32 output: the same bits.
void scatterAddRows(ThreadPool& pool, float* out, const float* y, const int32_t* ids, const double* weights, int n, int dim) {
  const size_t d = static_cast<size_t>(dim);
  parallelRows(pool, n, dim, [&](int i) {
    float* o = out + static_cast<size_t>(ids[i]) * d;
    const float* yi = y + i * d;
    const double w = weights[i];
    for (size_t j = 0; j < d; j++) o[j] = static_cast<float>(static_cast<double>(o[j]) + w * static_cast<double>(yi[j]));
  });
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
