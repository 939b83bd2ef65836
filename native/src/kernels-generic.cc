// The kernels built for any CPU: the fallback where AVX2/FMA/F16C are missing.
#define TSLLM_ISA generic
#include "kernels-impl.inc"
