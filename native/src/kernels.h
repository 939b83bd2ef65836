// The kernel table: every op the Backend interface needs, with one implementation per instruction set.
// The sources in kernels/ are compiled once per ISA level (binding.gyp: generic, avx2, avxvnni, avx512), each
// into its own namespace, and cpu-dispatch.cc picks one at run time. Kernels take raw pointers and
// trust their shapes: the addon checks lengths before calling them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "formats.h"

namespace tsllm {

class ThreadPool;

// Activations quantized per block of 32 for integer dot products: q[rows][k] int8, d[rows][k/32] scales,
// m[rows][k/32] the offset term of unsigned weight formats (see quantizeActivationRow).
// Activation rows quantized per block of 32 (activation-quant.cc): quants, scales, q4_0's eight-sums
// per block, and per 16 values the scaled sum of their quants, which block formats with offsets subtract.
struct QuantizedActivations {
  int8_t* q;
  float* d;
  int32_t* m;
  float* sums16;
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
  // Scaled scores s become softcap * tanh(s / softcap) (Gemma 2); 0 = none.
  float softcap;
  // [numHeads] logits joining each softmax's denominator (gpt-oss); null = none.
  const float* sinks;
};

struct KernelTable {
  const char* isa;

  // out[rows, n] = x[rows, k] @ w[n, k]^T (+ bias[n]); scratch is sized for rows x k (see QuantizedActivations).
  // Float weights are row-major; block formats with rows8 in the layout packRows8 writes; q2_K as stored.
  void (*matmul)(ThreadPool& pool, float* out, const float* x, const uint8_t* w, DType dtype, int n, int k, int rows,
                 const float* bias, QuantizedActivations scratch);
  // dst (rows8Bytes) = a block-format w[n, k] regrouped 8 rows at a time, block by block (layouts in
  // kernels/matmul-rows8.cc).
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
  /** out = gelu_tanh(gate) * up, or gelu_tanh(gate) when up is null; out may be gate. */
  void (*geluMul)(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n);
  // gpt-oss: out = (clamp(up, -limit, limit) + 1) * g * sigmoid(1.702 g), g = min(gate, limit).
  void (*clampedSwiglu)(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n, float limit);
  // In place: x = cap * tanh(x / cap) (Gemma 2's final logits).
  void (*softcap)(ThreadPool& pool, float* x, int64_t n, float cap);
  void (*add)(ThreadPool& pool, float* x, const float* y, int64_t n);
  void (*embedding)(ThreadPool& pool, float* out, const uint8_t* table, DType dtype, int dim, const int32_t* ids, int rows);
  // out[i, :] = x[ids[i], :] for i < n
  void (*gatherRows)(ThreadPool& pool, float* out, const float* x, const int32_t* ids, int n, int dim);
  // out[ids[i], :] += weights[i] * y[i, :] for i < n, in double then rounded to float; ids distinct
  void (*scatterAddRows)(ThreadPool& pool, float* out, const float* y, const int32_t* ids, const double* weights, int n, int dim);
  // Rows of `src` (f32) written to `dst` in a block format (q8_0, q4_0, f16, bf16), as llama.cpp rounds them.
  void (*quantizeRows)(ThreadPool& pool, uint8_t* dst, DType dtype, const float* src, int rows, int k);
  // k/v[rows, numKvHeads * headDim] quantized into the cache's slots; slot < 0 writes nothing.
  void (*writeKV)(ThreadPool& pool, uint8_t* kCache, uint8_t* vCache, KVDType dtype, const float* k, const float* v,
                  const int32_t* slots, int rows, int numKvHeads, int headDim, int blockSize);
  void (*attention)(ThreadPool& pool, float* out, const float* q, const uint8_t* kCache, const uint8_t* vCache, KVDType dtype,
                    const AttentionSeqDesc* seqs, int numSeqs, AttentionParams params);
  // Reads bytes of data once over all threads (their sum, so the loads stay): the read bandwidth.
  uint64_t (*streamRead)(ThreadPool& pool, const uint8_t* data, size_t bytes);
};

namespace generic {
const KernelTable& kernels();
}
namespace avx2 {
const KernelTable& kernels();
}
namespace avxvnni {
const KernelTable& kernels();
}
namespace avx512 {
const KernelTable& kernels();
}

// One build of the kernels and whether this CPU (and OS) can run it.
struct IsaVariant {
  const char* name;
  // The CPU features it is compiled for, as /proc/cpuinfo names them.
  const char* requires;
  // Empty when this CPU runs it; else the first feature it lacks.
  const char* missing;
  const KernelTable* table;
};

// Every variant, fastest first.
const IsaVariant* isaVariants(int* count);
// The fastest variant this CPU runs; nullptr when `name` is given and is not runnable here.
const IsaVariant* selectIsa(const char* name);

}  // namespace tsllm
