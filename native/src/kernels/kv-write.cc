// K and V of new tokens written into their cache slots in the cache's format.

#include "kernel-decls.h"
#include "kv-formats.h"

namespace tsllm {
namespace TSLLM_ISA {

void writeKV(ThreadPool& pool, uint8_t* kCache, uint8_t* vCache, KVDType dtype, const float* k, const float* v,
             const int32_t* slots, int rows, int numKvHeads, int headDim, int blockSize) {
  withKvFormat(dtype, [&](auto fmt) {
    using Fmt = decltype(fmt);
    const size_t headBytes = Fmt::headBytes(headDim), headRunBytes = headBytes * blockSize;
    const size_t kvDim = static_cast<size_t>(numKvHeads) * headDim;
    parallelRows(pool, rows, static_cast<int>(kvDim) * 8, [&](int r) {
      if (slots[r] < 0) return;
      const size_t block = static_cast<size_t>(slots[r] / blockSize), offset = static_cast<size_t>(slots[r] % blockSize);
      for (int h = 0; h < numKvHeads; h++) {
        const size_t at = (block * numKvHeads + h) * headRunBytes + offset * headBytes;
        Fmt::write(kCache + at, k + r * kvDim + static_cast<size_t>(h) * headDim, headDim);
        Fmt::write(vCache + at, v + r * kvDim + static_cast<size_t>(h) * headDim, headDim);
      }
    });
  });
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
