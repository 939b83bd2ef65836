// Every storage format once, for weights and for the KV cache: its code, name and size. The kernels'
// traits (kernels/weight-formats.h, kernels/kv-formats.h) inherit these and add how elements are read
// and written; the addon exports the table (formats()) and TypeScript checks it against its own
// (src/kernels/formats.ts) when the addon loads. Adding a format: its entry here, its traits and
// kernels, and TypeScript's table and reference dequantizer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tsllm {

enum class DType : int {
  F32 = 0, F16 = 1, BF16 = 2, Q8_0 = 3, Q4_0 = 4, Q4_1 = 5, Q5_0 = 6, Q5_1 = 7,
  Q2_K = 8, Q3_K = 9, Q4_K = 10, Q5_K = 11, Q6_K = 12, IQ4_NL = 13, IQ4_XS = 14, MXFP4 = 15,
};
enum class KVDType : int { F32 = 0, F16 = 1, BF16 = 2, FP8_E4M3 = 3, FP8_E5M2 = 4, INT8 = 5, INT4 = 6 };

// ---- weight formats: blocks of kBlockSize elements in kBlockBytes bytes --------------------------------

template <class Self>
struct WeightFormatBase {
  static size_t bytes(int64_t n) { return static_cast<size_t>(n / Self::kBlockSize) * Self::kBlockBytes; }
};

// ggmlType: the type's number in GGUF files. rows8: regrouped 8 rows at a time for the integer kernel
// (packRows8, kernels/rows8-layouts.h); q2_K runs as stored, decoded a row at a time (matmul-blocks.cc).
#define TSLLM_WEIGHT_FORMAT(Name, text, code, blockSize, blockBytes, quantized, ggmlType, rows8) \
  struct Name : WeightFormatBase<Name> {                                                          \
    static constexpr const char* kName = text;                                                    \
    static constexpr DType kCode = code;                                                          \
    static constexpr int kBlockSize = blockSize;                                                  \
    static constexpr int kBlockBytes = blockBytes;                                                \
    static constexpr bool kQuantized = quantized;                                                 \
    static constexpr int kGgmlType = ggmlType;                                                    \
    static constexpr bool kRows8 = rows8;                                                         \
  };

// The block layouts are llama.cpp's (ggml-common.h); kernels/weight-formats.h decodes each.
TSLLM_WEIGHT_FORMAT(F32Format, "f32", DType::F32, 1, 4, false, 0, false)
TSLLM_WEIGHT_FORMAT(F16Format, "f16", DType::F16, 1, 2, false, 1, false)
TSLLM_WEIGHT_FORMAT(BF16Format, "bf16", DType::BF16, 1, 2, false, 30, false)
TSLLM_WEIGHT_FORMAT(Q8_0Format, "q8_0", DType::Q8_0, 32, 34, true, 8, true)
TSLLM_WEIGHT_FORMAT(Q4_0Format, "q4_0", DType::Q4_0, 32, 18, true, 2, true)
TSLLM_WEIGHT_FORMAT(Q4_1Format, "q4_1", DType::Q4_1, 32, 20, true, 3, true)
TSLLM_WEIGHT_FORMAT(Q5_0Format, "q5_0", DType::Q5_0, 32, 22, true, 6, true)
TSLLM_WEIGHT_FORMAT(Q5_1Format, "q5_1", DType::Q5_1, 32, 24, true, 7, true)
TSLLM_WEIGHT_FORMAT(Q2_KFormat, "q2_k", DType::Q2_K, 256, 84, true, 10, false)
TSLLM_WEIGHT_FORMAT(Q3_KFormat, "q3_k", DType::Q3_K, 256, 110, true, 11, true)
TSLLM_WEIGHT_FORMAT(Q4_KFormat, "q4_k", DType::Q4_K, 256, 144, true, 12, true)
TSLLM_WEIGHT_FORMAT(Q5_KFormat, "q5_k", DType::Q5_K, 256, 176, true, 13, true)
TSLLM_WEIGHT_FORMAT(Q6_KFormat, "q6_k", DType::Q6_K, 256, 210, true, 14, true)
TSLLM_WEIGHT_FORMAT(IQ4_NLFormat, "iq4_nl", DType::IQ4_NL, 32, 18, true, 20, true)
TSLLM_WEIGHT_FORMAT(IQ4_XSFormat, "iq4_xs", DType::IQ4_XS, 256, 136, true, 23, true)
// The OCP Microscaling MXFP4: an E8M0 exponent, then 32 FP4 E2M1 codes as nibbles (ggml's block_mxfp4).
TSLLM_WEIGHT_FORMAT(MXFP4Format, "mxfp4", DType::MXFP4, 32, 17, true, 39, true)
#undef TSLLM_WEIGHT_FORMAT

// ---- KV-cache formats: one head of one token is a record of values, then bf16 scales -------------------
// A scaled format has one scale per group of kScaleGroup values, or per head when the head is not a
// multiple of the group (kScaleGroup 0: always per head).

constexpr int kvScaleGroup(int scaleGroup, int hd) { return scaleGroup > 0 && hd % scaleGroup == 0 ? scaleGroup : hd; }

// Bytes of one record; 0 when a head of hd values cannot be stored (its values do not fill whole bytes).
constexpr size_t kvRecordBytes(int valueBits, bool scaled, int scaleGroup, int hd) {
  if (hd <= 0 || (static_cast<int64_t>(hd) * valueBits) % 8 != 0) return 0;
  const size_t values = static_cast<size_t>(hd) * valueBits / 8;
  return scaled ? values + static_cast<size_t>(hd / kvScaleGroup(scaleGroup, hd)) * 2 : values;
}

template <class Self>
struct KVFormatBase {
  static size_t headBytes(int hd) { return kvRecordBytes(Self::kValueBits, Self::kScaled, Self::kScaleGroup, hd); }
  static int scaleGroup(int hd) { return kvScaleGroup(Self::kScaleGroup, hd); }
};

#define TSLLM_KV_FORMAT(Name, text, code, valueBits, scaled, scaleGroup) \
  struct Name : KVFormatBase<Name> {                                     \
    static constexpr const char* kName = text;                           \
    static constexpr KVDType kCode = code;                               \
    static constexpr int kValueBits = valueBits;                         \
    static constexpr bool kScaled = scaled;                              \
    static constexpr int kScaleGroup = scaleGroup;                       \
  };

TSLLM_KV_FORMAT(KvF32Format, "f32", KVDType::F32, 32, false, 0)
TSLLM_KV_FORMAT(KvF16Format, "f16", KVDType::F16, 16, false, 0)
TSLLM_KV_FORMAT(KvBF16Format, "bf16", KVDType::BF16, 16, false, 0)
TSLLM_KV_FORMAT(KvFp8E4M3Format, "fp8_e4m3", KVDType::FP8_E4M3, 8, true, 0)
TSLLM_KV_FORMAT(KvFp8E5M2Format, "fp8_e5m2", KVDType::FP8_E5M2, 8, true, 0)
TSLLM_KV_FORMAT(KvInt8Format, "int8", KVDType::INT8, 8, true, 0)
TSLLM_KV_FORMAT(KvInt4Format, "int4", KVDType::INT4, 4, true, 32)
#undef TSLLM_KV_FORMAT

// ---- the registry, as the addon exports it --------------------------------------------------------------

struct WeightFormatInfo {
  const char* name;
  int code;
  int blockSize;
  int blockBytes;
  bool quantized;
  int ggmlType;
  bool rows8;
};

struct KVFormatInfo {
  const char* name;
  int code;
  int valueBits;
  bool scaled;
  int scaleGroup;
};

// Every format, in code order; nullptr for a code that names none.
const WeightFormatInfo* weightFormat(int code);
const KVFormatInfo* kvFormat(int code);
int numWeightFormats();
int numKVFormats();

size_t rowBytes(DType dtype, int64_t elements);
// Bytes of one head of one token; 0 when `dtype` cannot store a head of this size.
size_t kvHeadBytes(KVDType dtype, int headDim);
// Floats of an f32 [n, k] weight packed in panels of 16 output columns (see packPanels).
size_t panelFloats(int64_t n, int64_t k);
// Bytes of a quantized [n, k] weight regrouped by packRows8: ceil(n / 8) groups of 8 rows.
size_t rows8Bytes(DType dtype, int64_t n, int64_t k);

}  // namespace tsllm
