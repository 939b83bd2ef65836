// Picks the kernel table for this CPU once, by CPUID.
#include "kernels.h"

namespace tsllm {

size_t panelFloats(int64_t n, int64_t k) { return static_cast<size_t>((n + 15) / 16 * 16 * k); }

size_t rows8Bytes(DType dtype, int64_t n, int64_t k) {
  if (dtype != DType::Q8_0 && dtype != DType::Q4_0) return 0;
  return static_cast<size_t>((n + 7) / 8 * 8) * rowBytes(dtype, k);
}

size_t rowBytes(DType dtype, int64_t elements) {
  switch (dtype) {
    case DType::F32: return static_cast<size_t>(elements) * 4;
    case DType::F16:
    case DType::BF16: return static_cast<size_t>(elements) * 2;
    case DType::Q8_0: return static_cast<size_t>(elements / 32) * 34;
    case DType::Q4_0: return static_cast<size_t>(elements / 32) * 18;
  }
  return 0;
}

bool validKVDType(int code) { return code >= 0 && code <= 6; }

size_t kvHeadBytes(KVDType dtype, int headDim) {
  if (headDim <= 0) return 0;
  const size_t hd = static_cast<size_t>(headDim);
  switch (dtype) {
    case KVDType::F32: return hd * 4;
    case KVDType::F16:
    case KVDType::BF16: return hd * 2;
    case KVDType::FP8_E4M3:
    case KVDType::FP8_E5M2:
    case KVDType::INT8: return hd + 2;
    case KVDType::INT4: {
      if (hd % 2 != 0) return 0;
      const size_t group = hd % 32 == 0 ? 32 : hd;
      return hd / 2 + (hd / group) * 2;
    }
  }
  return 0;
}

static bool cpuHasAvx2Fma() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

const KernelTable& bestKernels() {
  static const KernelTable& table = cpuHasAvx2Fma() ? avx2::kernels() : generic::kernels();
  return table;
}

const KernelTable& portableKernels() { return generic::kernels(); }

}  // namespace tsllm
