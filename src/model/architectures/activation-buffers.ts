// Activation buffers kept from one forward pass to the next. A decode step of a 1B model otherwise
// allocates ~1 MB per layer per 16 rows (a 512-token prefill ~40 MB per layer): fresh zeroed pages
// from the kernel on every step, and garbage-collector work on the cores the kernels run on.

export type ActivationName = 'hidden' | 'normed' | 'q' | 'k' | 'v' | 'fused' | 'attn' | 'attnOut' | 'up' | 'gate' | 'gateUp' | 'mlpOut' | 'last'
  | 'mlaQa' | 'mlaKva' | 'mlaQ' | 'mlaKeys' | 'mlaLatent' | 'mlaQueries' | 'mlaQNope' | 'mlaQLatent' | 'mlaAttn' | 'mlaValues' | 'mlaOLatent' | 'mlaVHead';

export class ActivationBuffers {
  private readonly buffers = new Map<ActivationName, Float32Array>();

  /**
   * `length` floats of the named buffer, grown when a larger batch needs it. Its contents are whatever
   * the last pass left there: only for outputs that a kernel writes whole.
   */
  get(name: ActivationName, length: number): Float32Array {
    let b = this.buffers.get(name);
    if (!b || b.length < length) {
      b = new Float32Array(length);
      this.buffers.set(name, b);
    }
    return b.length === length ? b : b.subarray(0, length);
  }
}
