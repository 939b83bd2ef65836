// The format registry's tables, built from the traits in formats.h, and the sizes derived from them.
#include "formats.h"

namespace tsllm {
namespace {

template <class F>
constexpr WeightFormatInfo describeWeight() {
  return {F::kName, static_cast<int>(F::kCode), F::kBlockSize, F::kBlockBytes, F::kQuantized, F::kGgmlType, F::kRows8};
}

template <class F>
constexpr KVFormatInfo describeKV() {
  return {F::kName, static_cast<int>(F::kCode), F::kValueBits, F::kScaled, F::kScaleGroup};
}

constexpr WeightFormatInfo kWeightFormats[] = {
    describeWeight<F32Format>(), describeWeight<F16Format>(), describeWeight<BF16Format>(),
    describeWeight<Q8_0Format>(), describeWeight<Q4_0Format>(), describeWeight<Q4_1Format>(),
    describeWeight<Q5_0Format>(), describeWeight<Q5_1Format>(), describeWeight<Q2_KFormat>(),
    describeWeight<Q3_KFormat>(), describeWeight<Q4_KFormat>(), describeWeight<Q5_KFormat>(),
    describeWeight<Q6_KFormat>(), describeWeight<IQ4_NLFormat>(), describeWeight<IQ4_XSFormat>(), describeWeight<MXFP4Format>(),
};

constexpr KVFormatInfo kKVFormats[] = {
    describeKV<KvF32Format>(), describeKV<KvF16Format>(), describeKV<KvBF16Format>(), describeKV<KvFp8E4M3Format>(),
    describeKV<KvFp8E5M2Format>(), describeKV<KvInt8Format>(), describeKV<KvInt4Format>(),
};

constexpr bool codesAreIndices() {
  for (int i = 0; i < static_cast<int>(sizeof(kWeightFormats) / sizeof(kWeightFormats[0])); i++) if (kWeightFormats[i].code != i) return false;
  for (int i = 0; i < static_cast<int>(sizeof(kKVFormats) / sizeof(kKVFormats[0])); i++) if (kKVFormats[i].code != i) return false;
  return true;
}
static_assert(codesAreIndices(), "each table lists its formats in code order");

}  // namespace

int numWeightFormats() { return static_cast<int>(sizeof(kWeightFormats) / sizeof(kWeightFormats[0])); }
int numKVFormats() { return static_cast<int>(sizeof(kKVFormats) / sizeof(kKVFormats[0])); }

const WeightFormatInfo* weightFormat(int code) { return code >= 0 && code < numWeightFormats() ? &kWeightFormats[code] : nullptr; }
const KVFormatInfo* kvFormat(int code) { return code >= 0 && code < numKVFormats() ? &kKVFormats[code] : nullptr; }

size_t rowBytes(DType dtype, int64_t elements) {
  const WeightFormatInfo* f = weightFormat(static_cast<int>(dtype));
  return f ? static_cast<size_t>(elements / f->blockSize) * f->blockBytes : 0;
}

size_t kvHeadBytes(KVDType dtype, int headDim) {
  const KVFormatInfo* f = kvFormat(static_cast<int>(dtype));
  return f ? kvRecordBytes(f->valueBits, f->scaled, f->scaleGroup, headDim) : 0;
}

size_t panelFloats(int64_t n, int64_t k) { return static_cast<size_t>((n + 15) / 16 * 16 * k); }

size_t rows8Bytes(DType dtype, int64_t n, int64_t k) {
  const WeightFormatInfo* f = weightFormat(static_cast<int>(dtype));
  if (!f || !f->rows8) return 0;
  const size_t groups = static_cast<size_t>((n + 7) / 8);
  // Per group of 8 rows: the layouts of kernels/rows8-layouts.h (q8_0, q4_0 and iq4_nl keep their
  // blocks' bytes; the others add unpacked scales, and q5_K and q3_K widen their values).
  switch (dtype) {
    case DType::Q4_K: return groups * static_cast<size_t>(k / 256) * (32 + 8 * (16 + 128));
    case DType::Q5_K: return groups * static_cast<size_t>(k / 256) * (32 + 8 * (16 + 256));
    case DType::Q6_K: return groups * static_cast<size_t>(k / 256) * (16 + 8 * (16 + 128 + 64));
    case DType::Q3_K: return groups * static_cast<size_t>(k / 256) * (16 + 8 * (16 + 128));
    case DType::IQ4_XS: return groups * static_cast<size_t>(k / 256) * (16 + 8 * (16 + 128));
    case DType::Q4_1: return groups * static_cast<size_t>(k / 32) * (32 + 128);
    case DType::MXFP4: return groups * static_cast<size_t>(k / 32) * (16 + 128);
    case DType::Q5_0:
    case DType::Q5_1: return groups * static_cast<size_t>(k / 32) * (32 + 128 + 32);
    default: return groups * 8 * rowBytes(dtype, k);
  }
}

}  // namespace tsllm
