// matmul on f32 weights packed in column panels.

#include "kernel-decls.h"

namespace tsllm {
namespace TSLLM_ISA {

// ---- matmul on f32 weights packed in column panels --------------------------------------------------
// packed[p][i][16] = w[16p + j][i] (zero past n): the 16 outputs of a panel are one pair of vectors, so
// a tile of C activation rows x NP panels is a sum of outer products, x[c][i] broadcast against the
// panel's row i. No horizontal sums, and each output is one FMA chain over i in order, whatever the
// tile shape: a row's outputs are bit-identical alone, in a prefill or in a batch.

constexpr int kPanel = 16;

void packPanels(ThreadPool& pool, float* dst, const uint8_t* w, int n, int k) {
  const int panels = (n + kPanel - 1) / kPanel;
  pool.run(panels, [&](int p, int) {
    float* d = dst + static_cast<size_t>(p) * kPanel * k;
    for (int i = 0; i < k; i++)
      for (int j = 0; j < kPanel; j++) {
        const int row = p * kPanel + j;
        float v = 0.0f;
        if (row < n) std::memcpy(&v, w + (static_cast<size_t>(row) * k + i) * 4, 4);  // weights may be unaligned
        d[static_cast<size_t>(i) * kPanel + j] = v;
      }
  });
}

// out[c][16p + j] for c < C, panels p0 .. p0 + NP (columns past n are not stored).
template <int C, int NP>
void panelTile(const float* packed, const float* x, int k, float* out, int n, int p0, const float* bias) {
  const size_t panelStride = static_cast<size_t>(kPanel) * k;
#if defined(__AVX2__)
  __m256 acc[C][2 * NP];
  TSLLM_UNROLL for (int c = 0; c < C; c++)
    TSLLM_UNROLL for (int v = 0; v < 2 * NP; v++) acc[c][v] = _mm256_setzero_ps();
  for (int i = 0; i < k; i++) {
    __m256 wv[2 * NP];
    TSLLM_UNROLL for (int q = 0; q < NP; q++) {
      const float* row = packed + (p0 + q) * panelStride + static_cast<size_t>(i) * kPanel;
      wv[2 * q] = _mm256_loadu_ps(row);
      wv[2 * q + 1] = _mm256_loadu_ps(row + 8);
    }
    TSLLM_UNROLL for (int c = 0; c < C; c++) {
      const __m256 xb = _mm256_broadcast_ss(x + static_cast<size_t>(c) * k + i);
      TSLLM_UNROLL for (int v = 0; v < 2 * NP; v++) acc[c][v] = _mm256_fmadd_ps(wv[v], xb, acc[c][v]);
    }
  }
  // Spilled once, by unrolled stores, then stored column by column (the last panel may be partial).
  alignas(32) float tmp[C][2 * NP][8];
  TSLLM_UNROLL for (int c = 0; c < C; c++)
    TSLLM_UNROLL for (int v = 0; v < 2 * NP; v++) _mm256_store_ps(tmp[c][v], acc[c][v]);
  for (int c = 0; c < C; c++) {
    for (int q = 0; q < NP; q++) {
      const int col = (p0 + q) * kPanel;
      const float* v = tmp[c][2 * q];
      float* o = out + static_cast<size_t>(c) * n + col;
      const int m = std::min(kPanel, n - col);
      for (int j = 0; j < m; j++) o[j] = v[j] + (bias ? bias[col + j] : 0.0f);
    }
  }
#else
  for (int c = 0; c < C; c++)
    for (int q = 0; q < NP; q++) {
      const int col = (p0 + q) * kPanel, m = std::min(kPanel, n - col);
      const float* panel = packed + (p0 + q) * panelStride;
      for (int j = 0; j < m; j++) {
        float a = 0;
        for (int i = 0; i < k; i++) a += panel[static_cast<size_t>(i) * kPanel + j] * x[static_cast<size_t>(c) * k + i];
        out[static_cast<size_t>(c) * n + col + j] = a + (bias ? bias[col + j] : 0.0f);
      }
    }
#endif
}

// Panels [p0, p1) against C activation rows, NP panels at a time (fewer at the end).
template <int C, int NP>
void panelRun(const float* packed, const float* x, int k, float* out, int n, int p0, int p1, const float* bias) {
  int p = p0;
  for (; p + NP <= p1; p += NP) panelTile<C, NP>(packed, x, k, out, n, p, bias);
  if constexpr (NP > 1) {
    for (; p < p1; p++) panelTile<C, 1>(packed, x, k, out, n, p, bias);
  }
}

// Twelve accumulators at most (of 16 registers): six rows x one panel down to one row x six panels,
// so a single decode row still keeps twelve independent FMA chains.
void panelRows(const float* packed, const float* x, int k, float* out, int n, int r0, int r1, int p0, int p1, const float* bias) {
  int r = r0;
  auto at = [&](int row) { return std::make_pair(x + static_cast<size_t>(row) * k, out + static_cast<size_t>(row) * n); };
  for (; r + 6 <= r1; r += 6) { auto [xr, o] = at(r); panelRun<6, 1>(packed, xr, k, o, n, p0, p1, bias); }
  auto [xr, o] = at(r);
  switch (r1 - r) {
    case 5: panelRun<5, 1>(packed, xr, k, o, n, p0, p1, bias); break;
    case 4: panelRun<4, 1>(packed, xr, k, o, n, p0, p1, bias); break;
    case 3: panelRun<3, 2>(packed, xr, k, o, n, p0, p1, bias); break;
    case 2: panelRun<2, 3>(packed, xr, k, o, n, p0, p1, bias); break;
    case 1: panelRun<1, 6>(packed, xr, k, o, n, p0, p1, bias); break;
    default: break;
  }
}

void matmulPanels(ThreadPool& pool, float* out, const float* x, const float* packed, int n, int k, int rows, const float* bias) {
  const int panels = (n + kPanel - 1) / kPanel;
  const int rowPanels = (rows + kPanelRows - 1) / kPanelRows;
  const int64_t macs = static_cast<int64_t>(n) * k * rows;
  const int wantChunks = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(pool.size() * 8 / rowPanels, macs / kMinTaskMacs)));
  const int chunkPanels = std::max(1, (panels + wantChunks - 1) / wantChunks);
  const int chunks = (panels + chunkPanels - 1) / chunkPanels;
  pool.run(rowPanels * chunks, [&](int task, int) {
    const int rp = task / chunks, chunk = task % chunks;
    const int r0 = rp * kPanelRows, r1 = std::min(rows, r0 + kPanelRows);
    const int p0 = chunk * chunkPanels, p1 = std::min(panels, p0 + chunkPanels);
    panelRows(packed, x, k, out, n, r0, r1, p0, p1, bias);
  });
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
