// Accelerators the calculator knows, with their datasheet dense 16-bit peak and memory bandwidth; cpu
// is this project's 2-core machine (measured figures in docs/BENCHMARKS.md) unless --measure asks it.

export interface Hardware {
  name: string;
  /** Dense FLOP/s at the weights' compute precision (16-bit tensor cores, or fp32 FMA on the CPU). */
  peakFlops: number;
  /** Memory bandwidth, bytes/s. */
  bandwidth: number;
  /** Memory for weights, KV cache and activations, bytes. */
  memory: number;
}

export const HARDWARE: Record<string, Hardware> = {
  'h100-sxm': { name: 'NVIDIA H100 SXM', peakFlops: 989e12, bandwidth: 3.35e12, memory: 80e9 },
  h200: { name: 'NVIDIA H200', peakFlops: 989e12, bandwidth: 4.8e12, memory: 141e9 },
  'a100-80g': { name: 'NVIDIA A100 80GB SXM', peakFlops: 312e12, bandwidth: 2.039e12, memory: 80e9 },
  l4: { name: 'NVIDIA L4', peakFlops: 121e12, bandwidth: 300e9, memory: 24e9 },
  cpu: { name: 'CPU (2-core AVX2 VM)', peakFlops: 200e9, bandwidth: 28e9, memory: 24e9 },
};
export const HARDWARE_NAMES = [...Object.keys(HARDWARE), 'custom'] as const;
