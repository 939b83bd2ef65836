// Float rows into a weight format, rounded as llama.cpp's reference quantizers round.

#include "kernel-decls.h"
#include "weight-formats.h"

namespace tsllm {
namespace TSLLM_ISA {

// ---- weight quantization (llama.cpp's reference rounding) --------------------------------------------

void quantizeRowTo(DType dtype, const float* x, int k, uint8_t* dst) {
  switch (dtype) {
    case DType::F32: std::memcpy(dst, x, static_cast<size_t>(k) * 4); return;
    case DType::F16:
      for (int i = 0; i < k; i++) { const uint16_t h = floatToHalf(x[i]); std::memcpy(dst + 2 * i, &h, 2); }
      return;
    case DType::BF16:
      for (int i = 0; i < k; i++) { const uint16_t h = floatToBf16(x[i]); std::memcpy(dst + 2 * i, &h, 2); }
      return;
    case DType::Q8_0:
      for (int b = 0; b < k / 32; b++) {
        const float* xb = x + b * 32;
        uint8_t* blk = dst + static_cast<size_t>(b) * Q8_0::kBlockBytes;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t h = floatToHalf(d);
        std::memcpy(blk, &h, 2);
        for (int j = 0; j < 32; j++) blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(xb[j] * id)));
      }
      return;
    case DType::Q4_0:
      for (int b = 0; b < k / 32; b++) {
        const float* xb = x + b * 32;
        uint8_t* blk = dst + static_cast<size_t>(b) * Q4_0::kBlockBytes;
        // The signed value of largest magnitude maps to -8, so the full range [-8, 7] is used.
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
          if (std::fabs(xb[j]) > amax) { amax = std::fabs(xb[j]); max = xb[j]; }
        }
        const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t h = floatToHalf(d);
        std::memcpy(blk, &h, 2);
        for (int j = 0; j < 16; j++) {
          const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(xb[j] * id + 8.5f)));
          const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(xb[j + 16] * id + 8.5f)));
          blk[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
        }
      }
      return;
    default:
      return;  // the addon refuses the other formats before calling
  }
}

void quantizeRows(ThreadPool& pool, uint8_t* dst, DType dtype, const float* src, int rows, int k) {
  const size_t stride = rowBytes(dtype, k);
  parallelRows(pool, rows, k, [&](int r) { quantizeRowTo(dtype, src + static_cast<size_t>(r) * k, k, dst + r * stride); });
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
