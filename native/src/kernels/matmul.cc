// matmul's entry point: each weight format to its kernel family.

#include "kernel-decls.h"
#include "weight-formats.h"

namespace tsllm {
namespace TSLLM_ISA {

void matmul(ThreadPool& pool, float* out, const float* x, const uint8_t* w, DType dtype, int n, int k, int rows,
            const float* bias, QuantizedActivations scratch) {
  dispatchDType(dtype, [&](auto fmt) {
    using W = decltype(fmt);
    if constexpr (W::kRows8) {
      matmulRows8<W>(pool, out, x, w, n, k, rows, bias, scratch);
    } else if constexpr (W::kQuantized) {
      matmulBlocks<W>(pool, out, x, w, n, k, rows, bias, scratch);
    } else {
      matmulFloat<W>(pool, out, x, w, n, k, rows, bias);
    }
  });
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
