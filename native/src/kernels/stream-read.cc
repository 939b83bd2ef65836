// The machine's read bandwidth, as the roofline of decode: every thread streams its share of a buffer
// once, summing it so the loads cannot be dropped.

#include "kernel-decls.h"

namespace tsllm {
namespace TSLLM_ISA {

uint64_t streamRead(ThreadPool& pool, const uint8_t* data, size_t bytes) {
  const int tasks = pool.size();
  const size_t share = (bytes / tasks) & ~static_cast<size_t>(127);
  std::vector<uint64_t> sums(tasks, 0);
  pool.run(tasks, [&](int t, int) {
    const uint8_t* p = data + share * t;
    const size_t n = t == tasks - 1 ? bytes - share * t : share;
    size_t i = 0;
    uint64_t s = 0;
#if defined(__AVX2__)
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 128 <= n; i += 128) {
      a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
      a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
      a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
      a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
    }
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
    s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
#endif
    for (; i + 8 <= n; i += 8) {
      uint64_t v;
      std::memcpy(&v, p + i, 8);
      s += v;
    }
    for (; i < n; i++) s += p[i];
    sums[t] = s;
  });
  uint64_t total = 0;
  for (uint64_t s : sums) total += s;
  return total;
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
