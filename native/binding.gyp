# The tsllm kernels addon. The kernels are compiled twice, once per instruction set, into separate
# static libraries so that only kernels-avx2 sees -mavx2; cpu-dispatch picks one at run time.
{
  "variables": {
    "common_cflags": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-exceptions", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"]
  },
  "targets": [
    {
      "target_name": "kernels_generic",
      "type": "static_library",
      "sources": ["src/kernels-generic.cc"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(common_cflags)", "-fPIC"]
    },
    {
      "target_name": "kernels_avx2",
      "type": "static_library",
      "sources": ["src/kernels-avx2.cc"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(common_cflags)", "-fPIC", "-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "tsllm_native",
      "sources": ["src/addon.cc", "src/thread-pool.cc", "src/cpu-dispatch.cc", "src/mapped-file.cc"],
      "dependencies": ["kernels_generic", "kernels_avx2"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(common_cflags)"],
      "libraries": ["-lpthread"]
    }
  ]
}
