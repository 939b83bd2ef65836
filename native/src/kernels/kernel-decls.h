// The kernels one ISA build defines (each in its own source, named for what it holds), collected
// into that build's KernelTable by kernel-table.cc.
#pragma once

#include "common.h"

namespace tsllm {
namespace TSLLM_ISA {

void quantizeActivationRow(const float* x, int k, int8_t* q, float* d, int32_t* eightSums);
void activationSums16(const int8_t* q, const float* d, int k, float* sums);
// Float formats row-major; block formats with rows8 as packRows8 wrote them; q2_K as stored.
void matmul(ThreadPool& pool, float* out, const float* x, const uint8_t* w, DType dtype, int n, int k, int rows,
            const float* bias, QuantizedActivations scratch);
template <class W>
void matmulFloat(ThreadPool& pool, float* out, const float* x, const uint8_t* w, int n, int k, int rows, const float* bias);
template <class W>
void matmulRows8(ThreadPool& pool, float* out, const float* x, const uint8_t* w, int n, int k, int rows, const float* bias,
                 QuantizedActivations scratch);
template <class W>
void matmulBlocks(ThreadPool& pool, float* out, const float* x, const uint8_t* w, int n, int k, int rows, const float* bias,
                  QuantizedActivations scratch);
void packRows8(ThreadPool& pool, uint8_t* dst, const uint8_t* w, DType dtype, int n, int k);
void packPanels(ThreadPool& pool, float* dst, const uint8_t* w, int n, int k);
void matmulPanels(ThreadPool& pool, float* out, const float* x, const float* packed, int n, int k, int rows, const float* bias);
void rmsNorm(ThreadPool& pool, float* out, const float* x, const float* gain, int rows, int dim, float eps);
void layerNorm(ThreadPool& pool, float* out, const float* x, const float* gain, const float* bias, int rows, int dim, float eps);
void rope(ThreadPool& pool, float* x, const int32_t* positions, int rows, int numHeads, int headDim, int style, int rotaryDim,
          const float* cosSin);
void siluMul(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n);
void geluMul(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n);
void softcap(ThreadPool& pool, float* x, int64_t n, float cap);
void clampedSwiglu(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n, float limit);
void add(ThreadPool& pool, float* x, const float* y, int64_t n);
void embedding(ThreadPool& pool, float* out, const uint8_t* table, DType dtype, int dim, const int32_t* ids, int rows);
void gatherRows(ThreadPool& pool, float* out, const float* x, const int32_t* ids, int n, int dim);
void scatterAddRows(ThreadPool& pool, float* out, const float* y, const int32_t* ids, const double* weights, int n, int dim);
void quantizeRows(ThreadPool& pool, uint8_t* dst, DType dtype, const float* src, int rows, int k);
void writeKV(ThreadPool& pool, uint8_t* kCache, uint8_t* vCache, KVDType dtype, const float* k, const float* v,
             const int32_t* slots, int rows, int numKvHeads, int headDim, int blockSize);
uint64_t streamRead(ThreadPool& pool, const uint8_t* data, size_t bytes);
void attention(ThreadPool& pool, float* out, const float* q, const uint8_t* kCache, const uint8_t* vCache, KVDType dtype,
               const AttentionSeqDesc* seqs, int numSeqs, AttentionParams p);

}  // namespace TSLLM_ISA
}  // namespace tsllm
