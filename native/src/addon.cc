// The Node-API surface: a `Kernels` object (one thread pool, one kernel table, its scratch) whose
// methods are the Backend ops, plus `mapFile` for zero-copy weights. Arguments are typed arrays and
// numbers; every array's length is checked against the shape before a kernel touches it, so a wrong
// call from JavaScript is a RangeError, never a crash.

#include <napi.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "formats-js.h"
#include "js-args.h"
#include "kernels.h"
#include "mapped-file.h"
#include "thread-pool.h"

namespace tsllm {
namespace {

// A weight format whose blocks fit rows of `k` elements, or nullptr.
const WeightFormatInfo* formatFor(int code, int64_t k) {
  const WeightFormatInfo* f = weightFormat(code);
  return f && k % f->blockSize == 0 ? f : nullptr;
}

class Kernels : public Napi::ObjectWrap<Kernels> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Kernels", {
        InstanceAccessor<&Kernels::threads>("threads"),
        InstanceAccessor<&Kernels::isa>("isa"),
        InstanceMethod<&Kernels::matmul>("matmul"),
        InstanceMethod<&Kernels::packRows8>("packRows8"),
        InstanceMethod<&Kernels::packPanels>("packPanels"),
        InstanceMethod<&Kernels::matmulPanels>("matmulPanels"),
        InstanceMethod<&Kernels::rmsNorm>("rmsNorm"),
        InstanceMethod<&Kernels::layerNorm>("layerNorm"),
        InstanceMethod<&Kernels::rope>("rope"),
        InstanceMethod<&Kernels::siluMul>("siluMul"),
        InstanceMethod<&Kernels::gelu>("gelu"),
        InstanceMethod<&Kernels::geluMul>("geluMul"),
        InstanceMethod<&Kernels::softcap>("softcap"),
        InstanceMethod<&Kernels::clampedSwiglu>("clampedSwiglu"),
        InstanceMethod<&Kernels::add>("add"),
        InstanceMethod<&Kernels::embedding>("embedding"),
        InstanceMethod<&Kernels::gatherRows>("gatherRows"),
        InstanceMethod<&Kernels::scatterAddRows>("scatterAddRows"),
        InstanceMethod<&Kernels::quantizeRows>("quantizeRows"),
        InstanceMethod<&Kernels::writeKV>("writeKV"),
        InstanceMethod<&Kernels::attention>("attention"),
        InstanceMethod<&Kernels::streamRead>("streamRead"),
    });
  }

  // new Kernels(threads, isa?): isa names a variant of isaVariants(); absent = the fastest this CPU runs
  explicit Kernels(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Kernels>(info) {
    int threads = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const std::string name = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    const IsaVariant* v = selectIsa(name.c_str());
    if (!v) {
      Napi::Error::New(info.Env(), "the " + name + " kernels are not built or do not run on this CPU (see isaVariants())").ThrowAsJavaScriptException();
      return;
    }
    table_ = v->table;
    pool_ = std::make_unique<ThreadPool>(threads);
  }

 private:
  Napi::Value threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pool_->size()); }
  Napi::Value isa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), table_->isa); }

  // matmul(out, x, w, dtype, n, k, rows, bias?)
  void matmul(const Napi::CallbackInfo& info) {
    Args a(info);
    const int dtype = a.i32(3), n = a.i32(4), k = a.i32(5), rows = a.i32(6);
    if (!a.ok()) return;
    const WeightFormatInfo* f = formatFor(dtype, k);
    if (!f || n <= 0 || k <= 0 || rows < 0) {
      Napi::RangeError::New(info.Env(), "matmul: bad dtype or shape").ThrowAsJavaScriptException();
      return;
    }
    const DType dt = static_cast<DType>(dtype);
    float* out = a.array<float>(0, static_cast<size_t>(rows) * n, "out");
    const float* x = a.array<float>(1, static_cast<size_t>(rows) * k, "x");
    const uint8_t* w = a.array<uint8_t>(2, f->rows8 ? rows8Bytes(dt, n, k) : rowBytes(dt, k) * n, "weight");
    const float* bias = a.optionalArray<float>(7, n, "bias");
    if (!a.ok() || rows == 0) return;
    if (f->quantized) {
      scratchQ_.resize(static_cast<size_t>(rows) * k);
      scratchD_.resize(static_cast<size_t>(rows) * (k / 32));
      scratchM_.resize(static_cast<size_t>(rows) * (k / 32));
      scratchS_.resize(static_cast<size_t>(rows) * (k / 16));
    }
    table_->matmul(*pool_, out, x, w, dt, n, k, rows, bias, {scratchQ_.data(), scratchD_.data(), scratchM_.data(), scratchS_.data()});
  }

  // packRows8(dst, w, dtype, n, k): w is a weight [n, k] in a format with rows8; dst holds rows8Bytes(dtype, n, k)
  void packRows8(const Napi::CallbackInfo& info) {
    Args a(info);
    const int dtype = a.i32(2), n = a.i32(3), k = a.i32(4);
    if (!a.ok()) return;
    const WeightFormatInfo* f = formatFor(dtype, k);
    if (!f || !f->rows8 || n <= 0 || k <= 0) {
      Napi::RangeError::New(info.Env(), "packRows8: bad dtype or shape").ThrowAsJavaScriptException();
      return;
    }
    const DType dt = static_cast<DType>(dtype);
    uint8_t* dst = a.array<uint8_t>(0, rows8Bytes(dt, n, k), "dst");
    const uint8_t* w = a.array<uint8_t>(1, rowBytes(dt, k) * n, "weight");
    if (a.ok()) table_->packRows8(*pool_, dst, w, dt, n, k);
  }

  // packPanels(dst, w, n, k): w is f32 weight bytes [n, k]; dst holds panelFloats(n, k) floats
  void packPanels(const Napi::CallbackInfo& info) {
    Args a(info);
    const int64_t n = a.nonNegative(2, "n"), k = a.nonNegative(3, "k");
    float* dst = a.array<float>(0, panelFloats(n, k), "dst");
    const uint8_t* w = a.array<uint8_t>(1, static_cast<size_t>(n * k) * 4, "weight");
    if (a.ok()) table_->packPanels(*pool_, dst, w, static_cast<int>(n), static_cast<int>(k));
  }

  // matmulPanels(out, x, packed, n, k, rows, bias?)
  void matmulPanels(const Napi::CallbackInfo& info) {
    Args a(info);
    const int64_t n = a.nonNegative(3, "n"), k = a.nonNegative(4, "k"), rows = a.nonNegative(5, "rows");
    float* out = a.array<float>(0, rows * n, "out");
    const float* x = a.array<float>(1, rows * k, "x");
    const float* packed = a.array<float>(2, panelFloats(n, k), "packed");
    const float* bias = a.optionalArray<float>(6, n, "bias");
    if (!a.ok() || rows == 0 || n == 0) return;
    table_->matmulPanels(*pool_, out, x, packed, static_cast<int>(n), static_cast<int>(k), static_cast<int>(rows), bias);
  }

  // rmsNorm(out, x, gain, rows, dim, eps)
  void rmsNorm(const Napi::CallbackInfo& info) {
    Args a(info);
    const int64_t rows = a.nonNegative(3, "rows"), dim = a.nonNegative(4, "dim");
    const float eps = static_cast<float>(a.f64(5));
    float* out = a.array<float>(0, rows * dim, "out");
    const float* x = a.array<float>(1, rows * dim, "x");
    const float* gain = a.array<float>(2, dim, "gain");
    if (a.ok()) table_->rmsNorm(*pool_, out, x, gain, static_cast<int>(rows), static_cast<int>(dim), eps);
  }

  // layerNorm(out, x, gain, bias, rows, dim, eps)
  void layerNorm(const Napi::CallbackInfo& info) {
    Args a(info);
    const int64_t rows = a.nonNegative(4, "rows"), dim = a.nonNegative(5, "dim");
    const float eps = static_cast<float>(a.f64(6));
    float* out = a.array<float>(0, rows * dim, "out");
    const float* x = a.array<float>(1, rows * dim, "x");
    const float* gain = a.array<float>(2, dim, "gain");
    const float* bias = a.array<float>(3, dim, "bias");
    if (a.ok()) table_->layerNorm(*pool_, out, x, gain, bias, static_cast<int>(rows), static_cast<int>(dim), eps);
  }

  // rope(x, positions, rows, numHeads, headDim, style, rotaryDim, cosSin, tablePositions)
  void rope(const Napi::CallbackInfo& info) {
    Args a(info);
    const int64_t rows = a.nonNegative(2, "rows"), heads = a.nonNegative(3, "numHeads"), hd = a.nonNegative(4, "headDim");
    const int style = a.i32(5);
    const int64_t rotary = a.nonNegative(6, "rotaryDim"), tablePositions = a.nonNegative(8, "tablePositions");
    float* x = a.array<float>(0, rows * heads * hd, "x");
    const int32_t* pos = a.array<int32_t>(1, rows, "positions");
    const float* cosSin = a.array<float>(7, tablePositions * rotary, "cosSin");
    if (!a.ok()) return;
    if (rotary > hd || rotary % 2 != 0 || (style != 0 && style != 1)) {
      Napi::RangeError::New(info.Env(), "rope: bad rotaryDim or style").ThrowAsJavaScriptException();
      return;
    }
    for (int64_t r = 0; r < rows; r++) {
      if (pos[r] < 0 || pos[r] >= tablePositions) {
        Napi::RangeError::New(info.Env(), "rope: position " + std::to_string(pos[r]) + " is outside the cos/sin table").ThrowAsJavaScriptException();
        return;
      }
    }
    table_->rope(*pool_, x, pos, static_cast<int>(rows), static_cast<int>(heads), static_cast<int>(hd), style,
                 static_cast<int>(rotary), cosSin);
  }

  // A gated activation's (out, gate, up, n, ...): `run` gets them once all are valid.
  template <class Run>
  void gated(const Napi::CallbackInfo& info, Run run) {
    Args a(info);
    const int64_t n = a.nonNegative(3, "n");
    float* out = a.array<float>(0, n, "out");
    const float* gate = a.array<float>(1, n, "gate");
    const float* up = a.array<float>(2, n, "up");
    if (a.ok()) run(a, out, gate, up, n);
  }

  // siluMul(out, gate, up, n)
  void siluMul(const Napi::CallbackInfo& info) {
    gated(info, [&](Args&, float* out, const float* gate, const float* up, int64_t n) { table_->siluMul(*pool_, out, gate, up, n); });
  }

  // gelu(x, n)
  void gelu(const Napi::CallbackInfo& info) {
    Args a(info);
    const int64_t n = a.nonNegative(1, "n");
    float* x = a.array<float>(0, n, "x");
    if (a.ok()) table_->geluMul(*pool_, x, x, nullptr, n);
  }

  // softcap(x, n, cap)
  void softcap(const Napi::CallbackInfo& info) {
    Args a(info);
    const int64_t n = a.nonNegative(1, "n");
    float* x = a.array<float>(0, n, "x");
    const float cap = static_cast<float>(a.f64(2));
    if (a.ok()) table_->softcap(*pool_, x, n, cap);
  }

  // clampedSwiglu(out, gate, up, n, limit)
  void clampedSwiglu(const Napi::CallbackInfo& info) {
    gated(info, [&](Args& a, float* out, const float* gate, const float* up, int64_t n) {
      const float limit = static_cast<float>(a.f64(4));
      if (a.ok()) table_->clampedSwiglu(*pool_, out, gate, up, n, limit);
    });
  }

  // geluMul(out, gate, up, n)
  void geluMul(const Napi::CallbackInfo& info) {
    gated(info, [&](Args&, float* out, const float* gate, const float* up, int64_t n) { table_->geluMul(*pool_, out, gate, up, n); });
  }

  // add(x, y, n)
  void add(const Napi::CallbackInfo& info) {
    Args a(info);
    const int64_t n = a.nonNegative(2, "n");
    float* x = a.array<float>(0, n, "x");
    const float* y = a.array<float>(1, n, "y");
    if (a.ok()) table_->add(*pool_, x, y, n);
  }

  // embedding(out, table, dtype, dim, vocab, ids, rows)
  void embedding(const Napi::CallbackInfo& info) {
    Args a(info);
    const int dtype = a.i32(2);
    const int64_t dim = a.nonNegative(3, "dim"), vocab = a.nonNegative(4, "vocab"), rows = a.nonNegative(6, "rows");
    if (!a.ok()) return;
    if (!formatFor(dtype, dim)) {
      Napi::RangeError::New(info.Env(), "embedding: bad dtype or shape").ThrowAsJavaScriptException();
      return;
    }
    const DType dt = static_cast<DType>(dtype);
    float* out = a.array<float>(0, rows * dim, "out");
    const uint8_t* table = a.array<uint8_t>(1, rowBytes(dt, dim) * vocab, "table");
    const int32_t* ids = a.array<int32_t>(5, rows, "ids");
    if (!a.ok()) return;
    for (int64_t r = 0; r < rows; r++) {
      if (ids[r] < 0 || ids[r] >= vocab) {
        Napi::RangeError::New(info.Env(), "embedding: token id " + std::to_string(ids[r]) + " is outside the vocabulary")
            .ThrowAsJavaScriptException();
        return;
      }
    }
    table_->embedding(*pool_, out, table, dt, static_cast<int>(dim), ids, static_cast<int>(rows));
  }

  // gatherRows(out, x, ids, dim): out[i] = x[ids[i]]
  void gatherRows(const Napi::CallbackInfo& info) {
    Args a(info);
    const int64_t dim = a.nonNegative(3, "dim");
    if (!a.ok() || dim == 0) return;
    const int64_t rows = static_cast<int64_t>(a.elements<float>(1, "x")) / dim;
    size_t n = 0;
    const int32_t* ids = a.rowIds(2, rows, &n);
    float* out = a.array<float>(0, n * dim, "out");
    const float* x = a.array<float>(1, rows * dim, "x");
    if (a.ok()) table_->gatherRows(*pool_, out, x, ids, static_cast<int>(n), static_cast<int>(dim));
  }

  // scatterAddRows(out, y, ids, weights, dim): out[ids[i]] += weights[i] * y[i], ids distinct
  void scatterAddRows(const Napi::CallbackInfo& info) {
    Args a(info);
    const int64_t dim = a.nonNegative(4, "dim");
    if (!a.ok() || dim == 0) return;
    const int64_t rows = static_cast<int64_t>(a.elements<float>(0, "out")) / dim;
    size_t n = 0;
    const int32_t* ids = a.rowIds(2, rows, &n);
    float* out = a.array<float>(0, rows * dim, "out");
    const float* y = a.array<float>(1, n * dim, "y");
    const double* weights = a.array<double>(3, n, "weights");
    if (a.ok()) table_->scatterAddRows(*pool_, out, y, ids, weights, static_cast<int>(n), static_cast<int>(dim));
  }

  // streamRead(data): reads every byte once over the pool; returns their sum as a Number (mod 2^53).
  Napi::Value streamRead(const Napi::CallbackInfo& info) {
    Args a(info);
    const size_t bytes = a.elements<uint8_t>(0, "data");
    const uint8_t* data = a.array<uint8_t>(0, bytes, "data");
    return a.ok() ? Napi::Number::New(info.Env(), static_cast<double>(table_->streamRead(*pool_, data, bytes) & ((uint64_t{1} << 53) - 1)))
                  : info.Env().Undefined();
  }

  // quantizeRows(dst, dtype, src, rows, k)
  void quantizeRows(const Napi::CallbackInfo& info) {
    Args a(info);
    const int dtype = a.i32(1);
    const int64_t rows = a.nonNegative(3, "rows"), k = a.nonNegative(4, "k");
    if (!a.ok()) return;
    // The block formats past q4_0 search for their scales; TypeScript quantizes those (src/kernels/quantize-blocks.ts).
    if (!formatFor(dtype, k) || dtype > static_cast<int>(DType::Q4_0)) {
      Napi::RangeError::New(info.Env(), "quantizeRows: bad dtype or shape (native quantization covers f32, f16, bf16, q8_0, q4_0)").ThrowAsJavaScriptException();
      return;
    }
    const DType dt = static_cast<DType>(dtype);
    uint8_t* dst = a.array<uint8_t>(0, rowBytes(dt, k) * rows, "dst");
    const float* src = a.array<float>(2, rows * k, "src");
    if (a.ok()) table_->quantizeRows(*pool_, dst, dt, src, static_cast<int>(rows), static_cast<int>(k));
  }

  // writeKV(kCache, vCache, kvDtype, k, v, slots, rows, numKvHeads, headDim, blockSize)
  void writeKV(const Napi::CallbackInfo& info) {
    Args a(info);
    const int dtype = a.i32(2);
    const int64_t rows = a.nonNegative(6, "rows");
    const int numKvHeads = a.i32(7), headDim = a.i32(8), blockSize = a.i32(9);
    if (!a.ok()) return;
    const size_t headBytes = kvFormat(dtype) && numKvHeads > 0 && blockSize > 0 ? kvHeadBytes(static_cast<KVDType>(dtype), headDim) : 0;
    if (headBytes == 0) {
      Napi::RangeError::New(info.Env(), "writeKV: bad kv dtype or head shape").ThrowAsJavaScriptException();
      return;
    }
    const int64_t kvDim = static_cast<int64_t>(numKvHeads) * headDim;
    const float* k = a.array<float>(3, rows * kvDim, "k");
    const float* v = a.array<float>(4, rows * kvDim, "v");
    const int32_t* slots = a.array<int32_t>(5, rows, "slotMapping");
    ArrayView kc, vc;
    if (!a.ok()) return;
    if (!viewOf(info.Env(), info[0], kc) || !viewOf(info.Env(), info[1], vc)) {
      Napi::RangeError::New(info.Env(), "writeKV: cache is not a typed array").ThrowAsJavaScriptException();
      return;
    }
    // Whole blocks only: a slot's block must lie entirely inside both caches.
    const int64_t slotsInCache = static_cast<int64_t>(std::min(kc.bytes, vc.bytes) / (headBytes * numKvHeads * blockSize)) * blockSize;
    for (int64_t r = 0; r < rows; r++) {
      if (slots[r] >= slotsInCache) {
        Napi::RangeError::New(info.Env(), "writeKV: slot " + std::to_string(slots[r]) + " is outside the cache")
            .ThrowAsJavaScriptException();
        return;
      }
    }
    table_->writeKV(*pool_, static_cast<uint8_t*>(kc.data), static_cast<uint8_t*>(vc.data), static_cast<KVDType>(dtype), k, v,
                    slots, static_cast<int>(rows), numKvHeads, headDim, blockSize);
  }

  // attention(out, q, kCache, vCache, kvDtype, seqDesc, blockTables, rows, numHeads, numKvHeads, headDim, blockSize,
  //           slidingWindow, scale); seqDesc holds [queryStart, queryLen, contextLen, tableOffset] per sequence.
  void attention(const Napi::CallbackInfo& info) {
    Args a(info);
    const int dtype = a.i32(4);
    const int64_t rows = a.nonNegative(7, "rows");
    AttentionParams p;
    p.numHeads = a.i32(8);
    p.numKvHeads = a.i32(9);
    p.headDim = a.i32(10);
    p.blockSize = a.i32(11);
    p.slidingWindow = a.i32(12);
    p.scale = static_cast<float>(a.f64(13));
    p.softcap = static_cast<float>(a.f64(14));
    p.sinks = info[15].IsNull() || info[15].IsUndefined() ? nullptr : a.array<float>(15, p.numHeads, "sinks");
    if (!a.ok()) return;
    const size_t headBytes = kvFormat(dtype) ? kvHeadBytes(static_cast<KVDType>(dtype), p.headDim) : 0;
    if (p.numHeads <= 0 || p.numKvHeads <= 0 || p.numHeads % p.numKvHeads != 0 || headBytes == 0 || p.blockSize <= 0) {
      Napi::RangeError::New(info.Env(), "attention: bad shape or kv dtype").ThrowAsJavaScriptException();
      return;
    }
    const int64_t qDim = static_cast<int64_t>(p.numHeads) * p.headDim;
    float* out = a.array<float>(0, rows * qDim, "out");
    const float* q = a.array<float>(1, rows * qDim, "q");
    ArrayView kc, vc, desc, tables;
    if (!a.ok()) return;
    const napi_env env = info.Env();
    if (!viewOf(env, info[2], kc) || !viewOf(env, info[3], vc) || !viewOf(env, info[5], desc) || !viewOf(env, info[6], tables)) {
      Napi::RangeError::New(env, "attention: the caches, seqDesc and blockTables must be typed arrays").ThrowAsJavaScriptException();
      return;
    }
    const int64_t numBlocks = static_cast<int64_t>(std::min(kc.bytes, vc.bytes) / (headBytes * p.numKvHeads * p.blockSize));
    const int32_t* d = static_cast<const int32_t*>(desc.data);
    const int32_t* t = static_cast<const int32_t*>(tables.data);
    const int64_t numSeqs = static_cast<int64_t>(desc.bytes / 16), tableLen = static_cast<int64_t>(tables.bytes / 4);
    std::vector<AttentionSeqDesc> seqs(numSeqs);
    for (int64_t s = 0; s < numSeqs; s++) {
      const int32_t qs = d[4 * s], ql = d[4 * s + 1], cl = d[4 * s + 2], off = d[4 * s + 3];
      const int64_t blocks = (static_cast<int64_t>(cl) + p.blockSize - 1) / p.blockSize;
      bool valid = qs >= 0 && ql >= 0 && ql <= cl && qs + ql <= rows && off >= 0 && off + blocks <= tableLen;
      for (int64_t b = 0; valid && b < blocks; b++) valid = t[off + b] >= 0 && t[off + b] < numBlocks;
      if (!valid) {
        Napi::RangeError::New(env, "attention: sequence " + std::to_string(s) + " has an inconsistent query range or block table")
            .ThrowAsJavaScriptException();
        return;
      }
      seqs[s] = {qs, ql, cl, t + off};
    }
    table_->attention(*pool_, out, q, static_cast<const uint8_t*>(kc.data), static_cast<const uint8_t*>(vc.data),
                      static_cast<KVDType>(dtype), seqs.data(), static_cast<int>(numSeqs), p);
  }

  const KernelTable* table_ = nullptr;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<int8_t> scratchQ_;
  std::vector<float> scratchD_;
  std::vector<int32_t> scratchM_;
  std::vector<float> scratchS_;
};

// mapFile(path) -> ArrayBuffer over a read-only private mapping, unmapped when the buffer is collected.
Napi::Value mapFileJs(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "mapFile(path): path must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  MappedFile file;
  std::string error;
  if (!mapFile(path, file, error)) {
    Napi::Error::New(env, "cannot map " + path + ": " + error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (file.size == 0) return Napi::ArrayBuffer::New(env, 0);
  auto* keep = new MappedFile(file);
  return Napi::ArrayBuffer::New(env, file.data, file.size, [](Napi::Env, void*, MappedFile* f) {
    unmapFile(*f);
    delete f;
  }, keep);
}

// allocate(bytes, hugePages?) -> zero-filled ArrayBuffer in native memory (the KV cache, repacked
// weights), freed when collected.
Napi::Value allocateJs(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 1) {
    Napi::TypeError::New(env, "allocate(bytes): bytes must be a positive number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const size_t bytes = static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue());
  const bool hugePages = info.Length() > 1 && info[1].ToBoolean().Value();
  MappedFile region;
  std::string error;
  if (!mapAnonymous(bytes, region, error, hugePages)) {
    Napi::Error::New(env, "cannot allocate " + std::to_string(bytes) + " bytes: " + error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* keep = new MappedFile(region);
  return Napi::ArrayBuffer::New(env, region.data, region.size, [](Napi::Env, void*, MappedFile* f) {
    unmapFile(*f);
    delete f;
  }, keep);
}

// releasePages(view) -> whether the OS took back the whole pages inside the typed array's bytes (see
// releasePages in mapped-file.h); the contents stay the same.
Napi::Value releasePagesJs(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) {
    Napi::TypeError::New(env, "releasePages(view): view must be a typed array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  const auto* base = static_cast<const uint8_t*>(view.ArrayBuffer().Data());
  return Napi::Boolean::New(env, releasePages(base + view.ByteOffset(), view.ByteLength()));
}

// The variant new Kernels(threads) picks: the fastest this CPU runs.
Napi::Value cpuIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), selectIsa(nullptr)->name); }

// [{ name, requires, missing, runnable }], fastest first.
Napi::Value isaVariantsJs(const Napi::CallbackInfo& info) {
  int n;
  const IsaVariant* v = isaVariants(&n);
  Napi::Array out = Napi::Array::New(info.Env(), n);
  for (int i = 0; i < n; i++) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("name", v[i].name);
    o.Set("requires", v[i].requires);
    o.Set("missing", v[i].missing);
    o.Set("runnable", v[i].missing[0] == '\0');
    out.Set(i, o);
  }
  return out;
}

// rows8Bytes(dtype, n, k): bytes of a [n, k] weight as packRows8 writes it (0: the format is not regrouped).
Napi::Value rows8BytesJs(const Napi::CallbackInfo& info) {
  Args a(info);
  const int dtype = a.i32(0), n = a.i32(1), k = a.i32(2);
  if (!a.ok()) return info.Env().Undefined();
  const WeightFormatInfo* f = weightFormat(dtype);
  const bool ok = f && n > 0 && k > 0 && k % f->blockSize == 0;
  return Napi::Number::New(info.Env(), ok ? static_cast<double>(rows8Bytes(static_cast<DType>(dtype), n, k)) : 0.0);
}

}  // namespace
}  // namespace tsllm

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("Kernels", tsllm::Kernels::define(env));
  exports.Set("mapFile", Napi::Function::New(env, tsllm::mapFileJs));
  exports.Set("allocate", Napi::Function::New(env, tsllm::allocateJs));
  exports.Set("releasePages", Napi::Function::New(env, tsllm::releasePagesJs));
  exports.Set("cpuIsa", Napi::Function::New(env, tsllm::cpuIsa));
  exports.Set("isaVariants", Napi::Function::New(env, tsllm::isaVariantsJs));
  exports.Set("formats", Napi::Function::New(env, tsllm::formatsJs));
  exports.Set("rows8Bytes", Napi::Function::New(env, tsllm::rows8BytesJs));
  return exports;
}

NODE_API_MODULE(tsllm_native, InitAddon)
