// matmul on float weights (f32, f16, bf16) in their row-major storage.

#include "kernel-decls.h"
#include "weight-formats.h"

namespace tsllm {
namespace TSLLM_ISA {

// ---- matmul: out[rows, n] = x[rows, k] @ w[n, k]^T -------------------------------------------------
// A tile is R weight rows x C activation rows, all of k, accumulated in registers: each weight block
// loaded is used C times and each activation block R times. Tasks are (row panel, weight chunk)
// pairs taken dynamically by the pool; a panel of activation rows stays in L2 while a chunk of weight
// rows streams past it. Decode (rows = 1) is the C = 1 tile, bound by weight bandwidth.



#if defined(__AVX2__)
// out[c, r] = sum of the lanes of acc[r][c] (+ bias[r]); four weight rows reduce and store together.
template <int R, int C>
inline void storeTile(const __m256 (&acc)[R][C], float* out, int n, const float* bias) {
  if constexpr (R == 4) {
    const __m128 b = bias ? _mm_loadu_ps(bias) : _mm_setzero_ps();
    TSLLM_UNROLL for (int c = 0; c < C; c++) _mm_storeu_ps(out + static_cast<size_t>(c) * n, _mm_add_ps(hsum4(acc[0][c], acc[1][c], acc[2][c], acc[3][c]), b));
  } else {
    TSLLM_UNROLL for (int r = 0; r < R; r++)
      TSLLM_UNROLL for (int c = 0; c < C; c++) out[static_cast<size_t>(c) * n + r] = hsum(acc[r][c]) + (bias ? bias[r] : 0.0f);
  }
}
#endif

// Float tile: weights widened to float32 eight at a time, FMA against float32 activations.
template <class W, int R, int C>
void tileFloat(const uint8_t* w, size_t wStride, const float* x, int k, float* out, int n, const float* bias) {
#if defined(__AVX2__)
  // A k that is not a multiple of 8 ends with one zero-padded vector, so every output is reduced in
  // registers by storeTile; a scalar epilogue would cost more than the products for small k.
  __m256 acc[R][C];
  TSLLM_UNROLL for (int r = 0; r < R; r++)
    TSLLM_UNROLL for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
  int i0 = 0;
#if defined(__AVX512F__)
  // Sixteen elements a step, folded into the 256-bit accumulators before the last k % 16: the same
  // order for every tile shape, so an output keeps its bits in any batch.
  const int k16 = k & ~15;
  if (k16 > 0) {
    __m512 wide[R][C];
    TSLLM_UNROLL for (int r = 0; r < R; r++)
      TSLLM_UNROLL for (int c = 0; c < C; c++) wide[r][c] = _mm512_setzero_ps();
    for (; i0 < k16; i0 += 16) {
      __m512 xv[C];
      TSLLM_UNROLL for (int c = 0; c < C; c++) xv[c] = _mm512_loadu_ps(x + static_cast<size_t>(c) * k + i0);
      TSLLM_UNROLL for (int r = 0; r < R; r++) {
        const __m512 wv = W::load16(w + r * wStride, i0);
        TSLLM_UNROLL for (int c = 0; c < C; c++) wide[r][c] = _mm512_fmadd_ps(wv, xv[c], wide[r][c]);
      }
    }
    TSLLM_UNROLL for (int r = 0; r < R; r++)
      TSLLM_UNROLL for (int c = 0; c < C; c++) {
        const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(wide[r][c]), 1));
        acc[r][c] = _mm256_add_ps(_mm512_castps512_ps256(wide[r][c]), hi);
      }
  }
#endif
  const int k8 = k & ~7;
  for (; i0 < k8; i0 += 8) {
    __m256 xv[C];
    TSLLM_UNROLL for (int c = 0; c < C; c++) xv[c] = _mm256_loadu_ps(x + static_cast<size_t>(c) * k + i0);
    TSLLM_UNROLL for (int r = 0; r < R; r++) {
      const __m256 wv = W::load8(w + r * wStride, i0);
      TSLLM_UNROLL for (int c = 0; c < C; c++) acc[r][c] = _mm256_fmadd_ps(wv, xv[c], acc[r][c]);
    }
  }
  if (k8 < k) {
    auto tail = [&](auto get) {
      alignas(32) float v[8] = {};
      for (int i = k8; i < k; i++) v[i - k8] = get(i);
      return _mm256_load_ps(v);
    };
    __m256 xv[C];
    TSLLM_UNROLL for (int c = 0; c < C; c++) xv[c] = tail([&](int i) { return x[static_cast<size_t>(c) * k + i]; });
    TSLLM_UNROLL for (int r = 0; r < R; r++) {
      const __m256 wv = tail([&](int i) { return W::get(w + r * wStride, i); });
      TSLLM_UNROLL for (int c = 0; c < C; c++) acc[r][c] = _mm256_fmadd_ps(wv, xv[c], acc[r][c]);
    }
  }
  storeTile<R, C>(acc, out, n, bias);
#else
  TSLLM_UNROLL for (int r = 0; r < R; r++) {
    const uint8_t* row = w + r * wStride;
    TSLLM_UNROLL for (int c = 0; c < C; c++) {
      const float* xr = x + static_cast<size_t>(c) * k;
      float s = 0;
      for (int i = 0; i < k; i++) s += W::get(row, i) * xr[i];
      out[static_cast<size_t>(c) * n + r] = s + (bias ? bias[r] : 0.0f);
    }
  }
#endif
}

// Weight rows [j, j + R) against activation rows [r0, r1), C rows at a time.
template <class W, int R>
void tileColumn(const uint8_t* wj, size_t wStride, const float* x, int r0, int r1, int k, float* out, int n, int j,
                const float* bj) {
  auto at = [&](int r) { return out + static_cast<size_t>(r) * n + j; };
  int r = r0;
#if defined(__AVX512F__)
  // 32 vector registers: six activation rows a tile (4 x 6 accumulators) reuse each weight vector twice
  // as often as three.
  for (; r + 6 <= r1; r += 6) tileFloat<W, R, 6>(wj, wStride, x + static_cast<size_t>(r) * k, k, at(r), n, bj);
#endif
  for (; r + 3 <= r1; r += 3) tileFloat<W, R, 3>(wj, wStride, x + static_cast<size_t>(r) * k, k, at(r), n, bj);
  if (r1 - r == 2) tileFloat<W, R, 2>(wj, wStride, x + static_cast<size_t>(r) * k, k, at(r), n, bj);
  if (r1 - r == 1) tileFloat<W, R, 1>(wj, wStride, x + static_cast<size_t>(r) * k, k, at(r), n, bj);
}

#if defined(__AVX2__)
// Decode streams kTileW rows side by side, each its own run of k values, and the hardware prefetcher
// starts a run only after its first misses, and again at every 4 KiB page. So each tile kicks the next
// tile's rows: their first line and the first line of every page they cross. Zen 5, 2 threads, from
// DRAM, alternating: f16 [5632, 2048] 38.2 -> 49.0 GB/s, [2048, 5632] 32.6 -> 43.8; bf16 36.4 -> 43.8
// and 30.8 -> 40.1; an f16 TinyLlama decode step 15.0 -> 18.0 tok/s.
inline void kickRows(const uint8_t* rows, size_t stride) {
  TSLLM_UNROLL for (int r = 0; r < kTileW; r++) {
    const uintptr_t start = reinterpret_cast<uintptr_t>(rows + r * stride);
    _mm_prefetch(reinterpret_cast<const char*>(start), _MM_HINT_T1);
    for (uintptr_t page = (start + 4095) & ~static_cast<uintptr_t>(4095); page < start + stride; page += 4096) {
      _mm_prefetch(reinterpret_cast<const char*>(page), _MM_HINT_T1);
    }
  }
}
#endif

template <class W>
void matmulFloat(ThreadPool& pool, float* out, const float* x, const uint8_t* w, int n, int k, int rows, const float* bias) {
  const size_t wStride = W::bytes(k);
  const WeightChunks wc = weightChunks(pool, n, k, rows, kTileW);
  const int panels = (rows + kPanelRows - 1) / kPanelRows, chunks = wc.count();
  pool.run(panels * chunks, [&](int task, int) {
    const int panel = task / chunks, chunk = task % chunks;
    const int r0 = panel * kPanelRows, r1 = std::min(rows, r0 + kPanelRows);
    const int n0 = wc.start[chunk], n1 = wc.start[chunk + 1];
    for (int j = n0; j < n1;) {
      const uint8_t* wj = w + static_cast<size_t>(j) * wStride;
      const float* bj = bias ? bias + j : nullptr;
      if (n1 - j >= kTileW) {
#if defined(__AVX2__)
        if (j + 2 * kTileW <= n1) kickRows(wj + kTileW * wStride, wStride);
#endif
        tileColumn<W, kTileW>(wj, wStride, x, r0, r1, k, out, n, j, bj);
        j += kTileW;
      } else {
        tileColumn<W, 1>(wj, wStride, x, r0, r1, k, out, n, j, bj);
        j += 1;
      }
    }
  });
}

template void matmulFloat<F32>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*);
template void matmulFloat<F16>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*);
template void matmulFloat<BF16>(ThreadPool&, float*, const float*, const uint8_t*, int, int, int, const float*);

}  // namespace TSLLM_ISA
}  // namespace tsllm
