// Activation buffers kept from one forward pass to the next. A decode step of a 1B model otherwise
// allocates ~1 MB per layer per 16 rows (a 512-token prefill ~40 MB per layer): fresh zeroed pages
// from the kernel on every step, and garbage-collector work on the cores the kernels run on.

export type ActivationName = 'hidden' | 'normed' | 'q' | 'k' | 'v' | 'fused' | 'attn' | 'attnOut' | 'up' | 'gate' | 'gateUp' | 'mlpOut' | 'last'
  | 'mlaQa' | 'mlaKva' | 'mlaQ' | 'mlaKeys' | 'mlaLatent' | 'mlaQueries' | 'mlaQNope' | 'mlaQLatent' | 'mlaAttn' | 'mlaValues' | 'mlaOLatent' | 'mlaVHead';

export class ActivationBuffers {
  // Each buffer with the view last handed out: decode steps ask for the same length every time, and a
  // fresh subarray per call was ~300 small allocations a step.
  private readonly buffers = new Map<ActivationName, { whole: Float32Array; view: Float32Array }>();

  /**
   * `length` floats of the named buffer, grown when a larger batch needs it. Its contents are whatever
   * the last pass left there: only for outputs that a kernel writes whole.
   */
  get(name: ActivationName, length: number): Float32Array {
    let b = this.buffers.get(name);
    if (!b || b.whole.length < length) {
      const whole = new Float32Array(length);
      b = { whole, view: whole };
      this.buffers.set(name, b);
    }
    if (b.view.length !== length) b.view = b.whole.length === length ? b.whole : b.whole.subarray(0, length);
    return b.view;
  }
}
