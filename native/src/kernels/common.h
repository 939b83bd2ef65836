// What every kernel source shares, compiled into each ISA's namespace: scalar conversions (the
// specification of the vector ones), SIMD reductions and exp, the unroll pragma, per-thread scratch,
// and how work is split across the thread pool.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "../formats.h"
#include "../kernels.h"
#include "../thread-pool.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

// GCC 12's AVX-512 intrinsics start from a self-initialised "undefined" vector, which its
// -Wmaybe-uninitialized reports wherever they inline (GCC bug 105593, fixed in 13).
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace tsllm {
namespace TSLLM_ISA {

// ---- scalar conversions ---------------------------------------------------------------------------

inline uint16_t loadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

inline float fp32FromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

inline uint32_t bitsFromFp32(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

inline float halfToFloat(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 31;
  const uint32_t man = h & 1023;
  if (exp == 0) {
    const float v = static_cast<float>(man) * (1.0f / 16777216.0f);  // subnormal: man * 2^-24
    return (h & 0x8000) ? -v : v;
  }
  if (exp == 31) return fp32FromBits(sign | 0x7f800000 | (man << 13));
  return fp32FromBits(sign | ((exp + 112) << 23) | (man << 13));
#endif
}

inline uint16_t floatToHalf(float x) {
#if defined(__F16C__)
  return _cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);
#else
  const uint32_t b = bitsFromFp32(x);
  const uint32_t sign = (b >> 16) & 0x8000;
  const int exp = static_cast<int>((b >> 23) & 0xff) - 127 + 15;
  uint32_t man = b & 0x7fffff;
  if (((b >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (man ? 0x200 : 0));
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    man |= 0x800000;
    const int shift = 14 - exp;
    uint32_t r = man >> shift;
    const uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    return static_cast<uint16_t>(sign | r);
  }
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  uint32_t r = sign | (static_cast<uint32_t>(exp) << 10) | (man >> 13);
  const uint32_t rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
  return static_cast<uint16_t>(r);
#endif
}

inline float bf16ToFloat(uint16_t h) { return fp32FromBits(static_cast<uint32_t>(h) << 16); }

inline uint16_t floatToBf16(float x) {
  const uint32_t b = bitsFromFp32(x);
  if ((b & 0x7f800000) == 0x7f800000 && (b & 0x7fffff)) return static_cast<uint16_t>((b >> 16) | 0x40);
  return static_cast<uint16_t>((b + 0x7fff + ((b >> 16) & 1)) >> 16);
}

#if defined(__AVX2__)
// u8 x s8 dot products, four bytes a lane added into int32: VNNI's vpdpbusd, EVEX-encoded with AVX-512
// VNNI or VEX-encoded with AVX-VNNI (CPUs with AVX2 but not AVX-512: Alder Lake and later, Zen 5's
// 256-bit form). TSLLM_VNNI says whether either is there; without, kernels widen through maddubs.
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define TSLLM_VNNI 1
inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
#elif defined(__AVXVNNI__)
#define TSLLM_VNNI 1
inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }
#else
#define TSLLM_VNNI 0
#endif

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The horizontal sums of a, b, c, d as one vector: four outputs of a tile reduced at the cost of ~one.
inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

// e^x for x <= 0 (softmax weights, sigmoid), Cephes' expf: 2^n times a degree-6 polynomial on |r| <= ln2/2,
// within 2 ulp; below -87 (e^x under float's normals) it returns e^-87, which a softmax cannot see.
inline __m256 expNonPositive(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
  const __m256i pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(pow2n));
}

// expNonPositive for one value, operation for operation (fused where the vector path fuses), so a
// value gets the same result whether it falls in a vector or in a scalar tail: what a row computes
// must not depend on where the batch puts it.
inline float expNonPositiveScalar(float x) {
  x = std::max(x, -87.0f);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  float r = std::fma(-n, 0.693359375f, x);
  r = std::fma(-n, -2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  const float y = std::fma(p * r, r, r) + 1.0f;
  return y * fp32FromBits(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
}
#endif

// Fully unrolls a loop over a tile's registers. Left rolled, such a loop indexes its array of vectors at
// run time, and the compiler then keeps every accumulator in memory: a store per FMA in the hot loop.
#define TSLLM_UNROLL _Pragma("GCC unroll 16")

// Per-thread scratch that keeps its capacity across calls, so kernels called thousands of times a
// second do not allocate. Each slot is one buffer; a kernel uses distinct slots for buffers alive at once.
// Buffers start on a cache line, so vector loads from a buffer's start do not straddle two (decode
// attention's scratch, cache warm, Zen 5: 31.4-32.5 against 32.7-34.3 us a call, alternating builds).
inline float* threadScratch(int slot, size_t n) {
  thread_local std::vector<float> buffers[7];
  std::vector<float>& b = buffers[slot];
  if (b.size() < n + 15) b.resize(n + 15);
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(b.data()) + 63) & ~uintptr_t{63});
}

// ---- matmul: out[rows, n] = x[rows, k] @ w[n, k]^T -------------------------------------------------
// A tile is R weight rows x C activation rows, all of k, accumulated in registers: each weight block
// loaded is used C times and each activation block R times. Tasks are (row panel, weight chunk)
// pairs taken dynamically by the pool; a panel of activation rows stays in L2 while a chunk of weight
// rows streams past it. Decode (rows = 1) is the C = 1 tile, bound by weight bandwidth.

constexpr int kTileW = 4;  // float weight rows per tile (R)
constexpr int kPanelRows = 64;
constexpr int64_t kMinTaskMacs = 1 << 15;

// The largest weight chunk of one matmul: enough chunks for both threads to stay busy, each a multiple
// of `align` rows; but a task below kMinTaskMacs costs more in hand-off (waking a worker, sharing the
// task counter) than it saves, so small matmuls (a 64-wide model's, one token) run on fewer threads or
// on the caller alone.
inline int chunkRowsFor(const ThreadPool& pool, int n, int k, int rows, int align) {
  const int panels = (rows + kPanelRows - 1) / kPanelRows;
  const int64_t macs = static_cast<int64_t>(n) * k * rows;
  const int wantChunks = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(pool.size() * 8 / panels, macs / kMinTaskMacs)));
  int chunkRows = std::max(align, ((n + wantChunks - 1) / wantChunks + align - 1) / align * align);
  if (rows > 8) chunkRows = std::max(chunkRows, 16);
  return chunkRows;
}

// A matmul's weight rows in chunks, largest first, chunk c being [start[c], start[c + 1]). The pool
// hands tasks out in order and a thread that finds none left waits for the others' last ones, so where
// one panel of activation rows is all the work (small batches, and decode on the formats that do not
// take runShares below) each chunk past the first ones is cut to a share of what remains (OpenMP's
// guided schedule), down to kLeastChunkRows: with equal chunks of 1/16 of the matrix, the two threads
// of a decode step finished a small projection 1-5 us apart (rdtsc per task, Zen 5 VM), and a host that
// slows one thread for a while cost a whole chunk. Several panels make many tasks, which even out by
// themselves.
constexpr int kLeastChunkRows = 32;

struct WeightChunks {
  std::vector<int> start;
  int count() const { return static_cast<int>(start.size()) - 1; }
};

inline WeightChunks weightChunks(const ThreadPool& pool, int n, int k, int rows, int align) {
  const int most = chunkRowsFor(pool, n, k, rows, align);
  const int least = rows > kPanelRows ? most : std::min(most, std::max(align, kLeastChunkRows / align * align));
  const int shares = 2 * pool.size();
  WeightChunks c;
  for (int at = 0; at < n;) {
    c.start.push_back(at);
    const int share = ((n - at + shares - 1) / shares + align - 1) / align * align;
    at = std::min(n, at + std::clamp(share, least, most));
  }
  c.start.push_back(n);
  return c;
}

// Decode (one activation row) streams each weight once, and a stream pays a ramp where it starts
// cold: the hardware and the kernel's prefetches reach full speed a few KiB in. So for one row each
// thread streams a contiguous share of the weight rows front to back, `unit` rows (a multiple of
// `align`) at a time, and a thread done with its share takes the rest of the others' from right behind
// their owners: one stream per thread in the common case, still balanced when the host slows one
// thread. Zen 5 VM, 2 threads, q4_K from DRAM, per call against the guided chunks above (variants run
// in a fixed order): 2048 x 2048 68.6 -> 62.4 us, 2560 x 2048 83.4 -> 73.9, 11264 x 2048 313.7 -> 300.3,
// 2048 x 5632 179.5 -> 170.0 (even shares without taking lost 3-7% on the last two to imbalance); a
// Q4_K_M decode with the order rotated each round: faster in 10 of 10 rounds, median 50.0 -> 51.8
// tok/s. fn(j0, j1) runs rows [j0, j1).
struct alignas(64) ShareCursor {
  std::atomic<int> next{0};
  int end = 0;
};

template <class Fn>
void runShares(ThreadPool& pool, int n, int align, int unit, Fn&& fn) {
  const int threads = pool.size();
  auto edge = [&](int t) { return std::min(n, (static_cast<int>(static_cast<int64_t>(n) * t / threads) + align - 1) / align * align); };
  std::unique_ptr<ShareCursor[]> shares(new ShareCursor[threads]);
  for (int t = 0; t < threads; t++) {
    shares[t].next.store(edge(t), std::memory_order_relaxed);
    shares[t].end = edge(t + 1);
  }
  pool.run(threads, [&](int t, int) {
    for (int i = 0; i < threads; i++) {
      ShareCursor& share = shares[(t + i) % threads];
      for (;;) {
        const int j0 = share.next.fetch_add(unit, std::memory_order_relaxed);
        if (j0 >= share.end) break;
        fn(j0, std::min(share.end, j0 + unit));
      }
    }
  });
}

// ---- element-wise and row ops -----------------------------------------------------------------------
// Split into tasks only when the work is large enough to pay for waking the pool.

constexpr int64_t kParallelGrain = 1 << 15;

template <class Fn>
void parallelRange(ThreadPool& pool, int64_t n, int64_t grain, Fn&& fn) {
  const int64_t tasks = std::min<int64_t>((n + grain - 1) / grain, pool.size() * 4);
  if (tasks <= 1) return fn(int64_t{0}, n);
  const int64_t step = (n + tasks - 1) / tasks;
  pool.run(static_cast<int>(tasks), [&](int t, int) { fn(t * step, std::min(n, (t + 1) * step)); });
}

template <class Fn>
void parallelRows(ThreadPool& pool, int rows, int dim, Fn&& fn) {
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max(dim, 1));
  parallelRange(pool, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) fn(static_cast<int>(r));
  });
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
