// The kernels built with AVX2, FMA and F16C (see binding.gyp); used only when the CPU has them.
#define TSLLM_ISA avx2
#include "kernels-impl.inc"
