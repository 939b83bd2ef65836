// Which kernel build runs: the fastest whose instruction sets this CPU has, by CPUID (through the
// compiler's __builtin_cpu_supports, which also checks that the OS saves the wider registers), unless
// a name is asked for (TSLLM_ISA, or a test running every variant).
#include <cstring>

#include "kernels.h"

namespace tsllm {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// The first feature of `features` (null-terminated list) this CPU lacks, or "" when it has them all.
const char* firstMissing(const char* const* features) {
  __builtin_cpu_init();
  for (const char* const* f = features; *f; f++) {
    const char* name = *f;
    const bool has = !std::strcmp(name, "avx2") ? __builtin_cpu_supports("avx2")
                     : !std::strcmp(name, "fma") ? __builtin_cpu_supports("fma")
                     : !std::strcmp(name, "f16c") ? __builtin_cpu_supports("f16c")
                     : !std::strcmp(name, "avx512f") ? __builtin_cpu_supports("avx512f")
                     : !std::strcmp(name, "avx512bw") ? __builtin_cpu_supports("avx512bw")
                     : !std::strcmp(name, "avx512vl") ? __builtin_cpu_supports("avx512vl")
                     : !std::strcmp(name, "avx512dq") ? __builtin_cpu_supports("avx512dq")
                     : !std::strcmp(name, "avx512_vnni") ? __builtin_cpu_supports("avx512vnni")
                     : !std::strcmp(name, "avx_vnni") ? __builtin_cpu_supports("avxvnni")
                     : false;
    if (!has) return name;
  }
  return "";
}
#else
const char* firstMissing(const char* const* features) { return *features ? *features : ""; }
#endif

const char* const kAvx512Features[] = {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx2", "fma", "f16c", nullptr};
const char* const kAvxVnniFeatures[] = {"avx_vnni", "avx2", "fma", "f16c", nullptr};
const char* const kAvx2Features[] = {"avx2", "fma", "f16c", nullptr};

}  // namespace

const IsaVariant* isaVariants(int* count) {
  static const IsaVariant variants[] = {
      {"avx512", "avx512f avx512bw avx512vl avx512dq avx512_vnni", firstMissing(kAvx512Features), &avx512::kernels()},
      {"avxvnni", "avx_vnni avx2 fma f16c", firstMissing(kAvxVnniFeatures), &avxvnni::kernels()},
      {"avx2", "avx2 fma f16c", firstMissing(kAvx2Features), &avx2::kernels()},
      {"generic", "", "", &generic::kernels()},
  };
  *count = 4;
  return variants;
}

const IsaVariant* selectIsa(const char* name) {
  int n;
  const IsaVariant* v = isaVariants(&n);
  for (int i = 0; i < n; i++) {
    const bool runnable = v[i].missing[0] == '\0';
    if (name && *name) {
      if (!std::strcmp(v[i].name, name)) return runnable ? &v[i] : nullptr;
    } else if (runnable) {
      return &v[i];
    }
  }
  return nullptr;
}

}  // namespace tsllm
