# The tsllm kernels addon. The kernel sources (src/kernels/) are compiled once per ISA level into
# separate static libraries, each with its own TSLLM_ISA namespace and flags, so that only its own
# objects see its instruction set; cpu-dispatch picks one at run time.
{
  "variables": {
    "common_cflags": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-exceptions", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "kernel_sources": [
      "src/kernels/activation-quant.cc", "src/kernels/matmul.cc", "src/kernels/matmul-float.cc", "src/kernels/matmul-rows8.cc", "src/kernels/matmul-blocks.cc",
      "src/kernels/matmul-panels.cc", "src/kernels/elementwise.cc", "src/kernels/weight-quantize.cc", "src/kernels/kv-write.cc",
      "src/kernels/attention.cc", "src/kernels/stream-read.cc", "src/kernels/kernel-table.cc"
    ]
  },
  "targets": [
    {
      "target_name": "kernels_generic",
      "type": "static_library",
      "sources": ["<@(kernel_sources)"],
      "defines": ["TSLLM_ISA=generic"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(common_cflags)", "-fPIC"]
    },
    {
      "target_name": "kernels_avx2",
      "type": "static_library",
      "sources": ["<@(kernel_sources)"],
      "defines": ["TSLLM_ISA=avx2"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(common_cflags)", "-fPIC", "-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "kernels_avxvnni",
      "type": "static_library",
      "sources": ["<@(kernel_sources)"],
      "defines": ["TSLLM_ISA=avxvnni"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(common_cflags)", "-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavxvnni"]
    },
    {
      "target_name": "kernels_avx512",
      "type": "static_library",
      "sources": ["<@(kernel_sources)"],
      "defines": ["TSLLM_ISA=avx512"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(common_cflags)", "-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mprefer-vector-width=256"]
    },
    {
      "target_name": "tsllm_native",
      "sources": ["src/addon.cc", "src/thread-pool.cc", "src/cpu-dispatch.cc", "src/formats.cc", "src/formats-js.cc", "src/mapped-file.cc"],
      "dependencies": ["kernels_generic", "kernels_avx2", "kernels_avxvnni", "kernels_avx512"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<@(common_cflags)"],
      "libraries": ["-lpthread"]
    }
  ]
}
