// The format registry as JavaScript sees it (formats()), for TypeScript to check against its own.
#pragma once

#include <napi.h>

namespace tsllm {

Napi::Value formatsJs(const Napi::CallbackInfo& info);

}  // namespace tsllm
