// This ISA build's kernel table.
#include "kernel-decls.h"

#define TSLLM_STRINGIFY2(x) #x
#define TSLLM_STRINGIFY(x) TSLLM_STRINGIFY2(x)

namespace tsllm {
namespace TSLLM_ISA {

const KernelTable& kernels() {
  static const KernelTable table = {
      TSLLM_STRINGIFY(TSLLM_ISA),
      matmul, packRows8, packPanels, matmulPanels, rmsNorm, layerNorm, rope, siluMul, geluMul, clampedSwiglu, softcap, add, embedding, gatherRows, scatterAddRows, quantizeRows, writeKV, attention, streamRead,
  };
  return table;
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
