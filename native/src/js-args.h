// The arguments of one addon call from JavaScript: typed arrays checked against the lengths the shape
// needs and numbers checked for range. The first failure throws a RangeError naming the argument and
// turns every later read into a no-op, so a binding reads everything, then runs only if ok().
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace tsllm {

struct ArrayView {
  void* data = nullptr;
  size_t bytes = 0;
};

inline bool viewOf(napi_env env, napi_value value, ArrayView& out) {
  napi_typedarray_type type;
  size_t length;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, &length, &out.data, &buffer, &offset) != napi_ok) return false;
  size_t elementBytes = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: elementBytes = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: elementBytes = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elementBytes = 8; break;
    default: break;
  }
  out.bytes = length * elementBytes;
  return true;
}

class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info), env_(info.Env()) {}

  template <class T>
  T* array(size_t index, size_t minElements, const char* name) {
    ArrayView v;
    if (!ok_) return nullptr;
    if (!viewOf(env_, info_[index], v)) return fail(name, "is not a typed array");
    if (v.bytes < minElements * sizeof(T)) return fail(name, "is too short for the given shape");
    return static_cast<T*>(v.data);
  }

  template <class T>
  T* optionalArray(size_t index, size_t minElements, const char* name) {
    if (info_.Length() <= index || info_[index].IsUndefined() || info_[index].IsNull()) return nullptr;
    return array<T>(index, minElements, name);
  }

  // Elements of the typed array at `index` (0 after a failure).
  template <class T>
  size_t elements(size_t index, const char* name) {
    ArrayView v;
    if (!ok_) return 0;
    if (!viewOf(env_, info_[index], v)) return fail(name, "is not a typed array"), 0;
    return v.bytes / sizeof(T);
  }

  // The Int32Array of row ids at `index`, each a row of a [rows, ...] array (nullptr after a failure).
  const int32_t* rowIds(size_t index, int64_t rows, size_t* count) {
    *count = elements<int32_t>(index, "ids");
    const int32_t* ids = array<int32_t>(index, *count, "ids");
    for (size_t i = 0; ok_ && i < *count; i++) {
      if (ids[i] < 0 || ids[i] >= rows) fail("ids", "name a row outside the array");
    }
    return ok_ ? ids : nullptr;
  }

  int i32(size_t index) {
    int32_t v = 0;
    if (ok_ && napi_get_value_int32(env_, info_[index], &v) != napi_ok) fail("argument", "is not a number");
    return v;
  }

  double f64(size_t index) {
    double v = 0;
    if (ok_ && napi_get_value_double(env_, info_[index], &v) != napi_ok) fail("argument", "is not a number");
    return v;
  }

  int64_t nonNegative(size_t index, const char* name) {
    const double v = f64(index);
    if (ok_ && !(v >= 0 && v <= 9.007199254740991e15)) fail(name, "must be a non-negative integer");
    return static_cast<int64_t>(v);
  }

  bool ok() const { return ok_; }

 private:
  std::nullptr_t fail(const char* name, const char* problem) {
    if (ok_) Napi::RangeError::New(env_, std::string(name) + " " + problem).ThrowAsJavaScriptException();
    ok_ = false;
    return nullptr;
  }

  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  bool ok_ = true;
};

}  // namespace tsllm
