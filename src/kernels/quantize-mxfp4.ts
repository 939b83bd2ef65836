// MXFP4 quantization as the OCP Microscaling Formats spec (v1.0, section 6.3) defines it: per block of
// 32, the shared E8M0 exponent is floor(log2(amax)) minus E2M1's largest exponent (2), and each
// element is x / 2^X rounded to the nearest FP4 E2M1 value (ties to an even mantissa), saturating at
// +-6. Stored as ggml's block_mxfp4: the exponent byte e = X + 127, then the 4-bit codes (sign bit 3),
// element j in the low nibble of byte j and element j + 16 in its high nibble.

/** The E2M1 magnitudes of codes 0..7; code | 8 is the negative. */
export const E2M1_VALUES = [0, 0.5, 1, 1.5, 2, 3, 4, 6] as const;

const f32 = new Float32Array(1);
const bits = new Uint32Array(f32.buffer);

// floor(log2(|x|)) of a float32 from its exponent field (exact, unlike Math.log2 near powers of two);
// subnormals count as -127.
function exponentOf(x: number): number {
  f32[0] = x;
  return ((bits[0]! >>> 23) & 255) - 127;
}

/** The E2M1 code nearest to t >= 0 (t already divided by the block scale). */
export function nearestE2M1(t: number): number {
  if (t >= 6) return 7;
  let best = 0;
  for (let i = 1; i < 8; i++) {
    const d = Math.abs(t - E2M1_VALUES[i]!), bestD = Math.abs(t - E2M1_VALUES[best]!);
    // A tie goes to the even code: its mantissa bit is 0.
    if (d < bestD || (d === bestD && i % 2 === 0)) best = i;
  }
  return best;
}

export function quantizeMxfp4Block(x: Float32Array, d: Uint8Array, off: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[j]!));
  const e = amax > 0 && Number.isFinite(amax) ? Math.min(254, Math.max(0, exponentOf(amax) - 2 + 127)) : 0;
  const scale = 2 ** (e - 127);
  const code = (v: number) => nearestE2M1(Math.abs(v) / scale) | (v < 0 ? 8 : 0);
  d[off] = e;
  for (let j = 0; j < 16; j++) d[off + 1 + j] = code(x[j]!) | (code(x[j + 16]!) << 4);
}
