#include "formats-js.h"

#include "formats.h"

namespace tsllm {

// The format registry (formats.h): { weights: [{ name, code, blockSize, blockBytes, quantized, ggmlType, rows8 }],
// kv: [{ name, code, valueBits, scaled, scaleGroup }] }, for TypeScript to check against its own.
Napi::Value formatsJs(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Napi::Array weights = Napi::Array::New(env, numWeightFormats());
  for (int i = 0; i < numWeightFormats(); i++) {
    const WeightFormatInfo* f = weightFormat(i);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", f->name);
    o.Set("code", f->code);
    o.Set("blockSize", f->blockSize);
    o.Set("blockBytes", f->blockBytes);
    o.Set("quantized", f->quantized);
    o.Set("ggmlType", f->ggmlType);
    o.Set("rows8", f->rows8);
    weights.Set(i, o);
  }
  Napi::Array kv = Napi::Array::New(env, numKVFormats());
  for (int i = 0; i < numKVFormats(); i++) {
    const KVFormatInfo* f = kvFormat(i);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", f->name);
    o.Set("code", f->code);
    o.Set("valueBits", f->valueBits);
    o.Set("scaled", f->scaled);
    o.Set("scaleGroup", f->scaleGroup);
    kv.Set(i, o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("weights", weights);
  out.Set("kv", kv);
  return out;
}

}  // namespace tsllm
