# The collectives addon behind tensor and pipeline parallelism: Gloo (Debian's libgloo-dev) with its
# TCP transport. Built apart from the kernels so that a machine without Gloo still gets the kernels;
# there, -tp/-pp > 1 fail saying what to install.
{
  "targets": [{
    "target_name": "tsllm_comm",
    "sources": ["../src/comm/comm-addon.cc", "../src/comm/store-client.cc", "../src/comm/shm-collectives.cc", "../src/comm/shm-mailboxes.cc"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
    "cflags_cc": ["-O2", "-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "libraries": ["-lgloo", "-lpthread", "-lrt"]
  }]
}
