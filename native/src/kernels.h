// The kernel table: every op the Backend interface needs, with one implementation per instruction set
// (kernels-impl.inc compiled as kernels-avx2.cc and kernels-generic.cc). Kernels take raw pointers and
// trust their shapes: the addon checks lengths before calling them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tsllm {

class ThreadPool;

// Storage formats, numbered as in src/kernels/native/native-backend.ts.
enum class DType : int { F32 = 0, F16 = 1, BF16 = 2, Q8_0 = 3, Q4_0 = 4 };

size_t rowBytes(DType dtype, int64_t elements);
// Floats of an f32 [n, k] weight packed in panels of 16 output columns (see packPanels).
size_t panelFloats(int64_t n, int64_t k);
// Bytes of a q8_0 or q4_0 [n, k] weight regrouped by packRows8: ceil(n / 8) groups of 8 rows.
size_t rows8Bytes(DType dtype, int64_t n, int64_t k);

// KV-cache formats, numbered as NATIVE_KV_DTYPE in src/kernels/kv-cache-dtype.ts (layouts there).
enum class KVDType : int { F32 = 0, F16 = 1, BF16 = 2, FP8_E4M3 = 3, FP8_E5M2 = 4, INT8 = 5, INT4 = 6 };

bool validKVDType(int code);
// Bytes of one head of one token; 0 when `dtype` cannot store a head of this size.
size_t kvHeadBytes(KVDType dtype, int headDim);

// Activations quantized per block of 32 for integer dot products: q[rows][k] int8, d[rows][k/32] scales,
// m[rows][k/32] the offset term of unsigned weight formats (see quantizeActivationRow).
struct QuantizedActivations {
  int8_t* q;
  float* d;
  int32_t* m;
};

struct AttentionSeqDesc {
  int32_t queryStart;
  int32_t queryLen;
  int32_t contextLen;
  const int32_t* blockTable;
};

struct AttentionParams {
  int numHeads, numKvHeads, headDim, blockSize, slidingWindow;
  float scale;
};

struct KernelTable {
  const char* isa;

  // out[rows, n] = x[rows, k] @ w[n, k]^T (+ bias[n]); scratch is sized for rows x k (see QuantizedActivations).
  // Float weights are row-major; q8_0 and q4_0 weights are in the layout packRows8 writes.
  void (*matmul)(ThreadPool& pool, float* out, const float* x, const uint8_t* w, DType dtype, int n, int k, int rows,
                 const float* bias, QuantizedActivations scratch);
  // dst (rows8Bytes) = q8_0 or q4_0 w[n, k] regrouped 8 rows at a time, block by block (layout in
  // kernels-impl.inc, "quantized weights in groups of 8 rows").
  void (*packRows8)(ThreadPool& pool, uint8_t* dst, const uint8_t* w, DType dtype, int n, int k);

  // dst = w[n, k] (f32) in column panels: dst[p][i][16] = w[16p + j][i], zero past n.
  void (*packPanels)(ThreadPool& pool, float* dst, const uint8_t* w, int n, int k);
  // matmul over packed f32 weights; every output is one ordered FMA chain over k, whatever `rows` is.
  void (*matmulPanels)(ThreadPool& pool, float* out, const float* x, const float* packed, int n, int k, int rows,
                       const float* bias);

  void (*rmsNorm)(ThreadPool& pool, float* out, const float* x, const float* gain, int rows, int dim, float eps);
  void (*layerNorm)(ThreadPool& pool, float* out, const float* x, const float* gain, const float* bias, int rows, int dim,
                    float eps);
  // style 0 = neox (pairs i, i + rotaryDim/2), 1 = interleaved (pairs 2i, 2i + 1); cosSin: per position,
  // rotaryDim/2 cosines then rotaryDim/2 sines
  void (*rope)(ThreadPool& pool, float* x, const int32_t* positions, int rows, int numHeads, int headDim, int style,
               int rotaryDim, const float* cosSin);
  void (*siluMul)(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n);
  void (*gelu)(ThreadPool& pool, float* x, int64_t n);
  void (*add)(ThreadPool& pool, float* x, const float* y, int64_t n);
  void (*embedding)(ThreadPool& pool, float* out, const uint8_t* table, DType dtype, int dim, const int32_t* ids, int rows);
  // Rows of `src` (f32) written to `dst` in a block format (q8_0, q4_0, f16, bf16), as llama.cpp rounds them.
  void (*quantizeRows)(ThreadPool& pool, uint8_t* dst, DType dtype, const float* src, int rows, int k);
  // k/v[rows, numKvHeads * headDim] quantized into the cache's slots; slot < 0 writes nothing.
  void (*writeKV)(ThreadPool& pool, uint8_t* kCache, uint8_t* vCache, KVDType dtype, const float* k, const float* v,
                  const int32_t* slots, int rows, int numKvHeads, int headDim, int blockSize);
  void (*attention)(ThreadPool& pool, float* out, const float* q, const uint8_t* kCache, const uint8_t* vCache, KVDType dtype,
                    const AttentionSeqDesc* seqs, int numSeqs, AttentionParams params);
};

namespace generic {
const KernelTable& kernels();
}
namespace avx2 {
const KernelTable& kernels();
}

// The fastest table this CPU supports (AVX2 + FMA + F16C, else the portable one).
const KernelTable& bestKernels();
const KernelTable& portableKernels();

}  // namespace tsllm
