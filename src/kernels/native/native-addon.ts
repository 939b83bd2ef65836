// Loads the compiled kernels addon (native/build/Release/tsllm_native.node) and checks that its format
// table is TypeScript's. When it is missing (no compiler at install time), fails to load, or disagrees
// on a format (a stale build), callers get the reason instead and fall back to the TypeScript backend.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkNativeFormats, type NativeFormatTable } from '../formats.js';

/** The addon's Kernels object: each method is one op of the Backend interface on raw arrays. */
export interface NativeKernels {
  readonly threads: number;
  readonly isa: string;
  /** Float weights row-major; block formats with rows8 as packRows8 wrote them, q2_k as stored. */
  matmul(out: Float32Array, x: Float32Array, w: Uint8Array, dtype: number, n: number, k: number, rows: number, bias?: Float32Array): void;
  /** A block-format weight [n, k] (a format with rows8) regrouped 8 rows at a time into rows8Bytes(dtype, n, k) bytes. */
  packRows8(dst: Uint8Array, w: Uint8Array, dtype: number, n: number, k: number): void;
  /** f32 weight bytes [n, k] into column panels of 16: packed[p][i][j] = w[16p + j][i], zero past n. */
  packPanels(packed: Float32Array, w: Uint8Array, n: number, k: number): void;
  /** matmul over packed f32 weights (`packed` holds ceil(n / 16) * 16 * k floats). */
  matmulPanels(out: Float32Array, x: Float32Array, packed: Float32Array, n: number, k: number, rows: number, bias?: Float32Array): void;
  rmsNorm(out: Float32Array, x: Float32Array, gain: Float32Array, rows: number, dim: number, eps: number): void;
  layerNorm(out: Float32Array, x: Float32Array, gain: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number): void;
  rope(x: Float32Array, positions: Int32Array, rows: number, numHeads: number, headDim: number, style: number, rotaryDim: number, cosSin: Float32Array, tablePositions: number): void;
  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  gelu(x: Float32Array, n: number): void;
  softcap(x: Float32Array, n: number, cap: number): void;
  geluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  clampedSwiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number, limit: number): void;
  add(x: Float32Array, y: Float32Array, n: number): void;
  embedding(out: Float32Array, table: Uint8Array, dtype: number, dim: number, vocab: number, ids: Int32Array, rows: number): void;
  gatherRows(out: Float32Array, x: Float32Array, ids: Int32Array, dim: number): void;
  scatterAddRows(out: Float32Array, y: Float32Array, ids: Int32Array, weights: Float64Array, dim: number): void;
  quantizeRows(dst: Uint8Array, dtype: number, src: Float32Array, rows: number, k: number): void;
  /** Reads every byte of data once over the pool (their sum, so the reads happen): times the read bandwidth. */
  streamRead(data: Uint8Array): number;
  writeKV(kCache: Uint8Array, vCache: Uint8Array, kvDtype: number, k: Float32Array, v: Float32Array, slots: Int32Array, rows: number, numKvHeads: number, headDim: number, blockSize: number): void;
  attention(
    out: Float32Array, q: Float32Array, kCache: Uint8Array, vCache: Uint8Array, kvDtype: number, seqDesc: Int32Array, blockTables: Int32Array,
    rows: number, numHeads: number, numKvHeads: number, headDim: number, blockSize: number, slidingWindow: number, scale: number,
    softcap: number, sinks: Float32Array | null,
  ): void;
}

export interface NativeAddon {
  /** `isa`: a variant of isaVariants() that this CPU runs; absent = the fastest. */
  Kernels: new (threads: number, isa?: string) => NativeKernels;
  mapFile(path: string): ArrayBuffer;
  /**
   * Asks the OS to reclaim the whole pages under `view` now (mapped file pages are dropped and read
   * back if touched again); the contents stay the same. False where the kernel refuses.
   */
  releasePages(view: ArrayBufferView): boolean;
  /**
   * Zero-filled native memory, committed as it is touched, released when the buffer is collected;
   * `hugePages`: 2 MiB-aligned and advised for transparent huge pages.
   */
  allocate(bytes: number, hugePages?: boolean): ArrayBuffer;
  /** The fastest kernel build this CPU runs: 'avx512', 'avxvnni', 'avx2' or 'generic'. */
  cpuIsa(): string;
  /** Every kernel build, fastest first, with the CPU features it needs and the first one this CPU lacks. */
  isaVariants(): IsaVariant[];
  /** The format registry of native/src/formats.h. */
  formats(): NativeFormatTable;
  /** Bytes of a [n, k] weight regrouped by packRows8 (0 when its format is not regrouped). */
  rows8Bytes(dtype: number, n: number, k: number): number;
}

export interface IsaVariant {
  name: string;
  /** CPU features, as /proc/cpuinfo names them. */
  requires: string;
  /** The first required feature this CPU lacks ('' when it runs). */
  missing: string;
  runnable: boolean;
}

export type AddonLoad = { ok: true; addon: NativeAddon } | { ok: false; reason: string };

const ADDON_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../native/build/Release/tsllm_native.node');

let cached: AddonLoad | undefined;

export function loadNativeAddon(): AddonLoad {
  if (cached) return cached;
  if (process.env.TSLLM_NO_NATIVE === '1') {
    cached = { ok: false, reason: 'disabled by TSLLM_NO_NATIVE=1' };
  } else if (!existsSync(ADDON_PATH)) {
    cached = { ok: false, reason: `not built (no ${path.relative(process.cwd(), ADDON_PATH) || ADDON_PATH}; run npm install with a C++ compiler)` };
  } else {
    try {
      const addon = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
      const problems = checkNativeFormats(addon.formats());
      cached = problems.length === 0 ? { ok: true, addon } : { ok: false, reason: `disagrees with TypeScript on formats (rebuild it with npm install): ${problems.join('; ')}` };
    } catch (e) {
      cached = { ok: false, reason: `failed to load: ${(e as Error).message}` };
    }
  }
  return cached;
}
