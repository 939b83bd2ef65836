// The backends every model-level test runs on. The native addon must be built for the tests to pass
// (npm install builds it); TSLLM_NO_NATIVE=1 runs the reference backend alone, for machines without a compiler.

import type { Backend } from '../../src/kernels/backend.js';
import { loadNativeAddon } from '../../src/kernels/native/native-addon.js';
import { NativeBackend } from '../../src/kernels/native/native-backend.js';
import { ReferenceBackend } from '../../src/kernels/reference/reference-backend.js';

export interface NamedBackend {
  name: string;
  make(): Backend;
}

export function nativeAddon() {
  const load = loadNativeAddon();
  if (!load.ok) {
    if (process.env.TSLLM_NO_NATIVE === '1') return null;
    throw new Error(`native addon unavailable: ${load.reason}`);
  }
  return load.addon;
}

/** The kernel builds this CPU runs, fastest first; none without the addon. */
export function nativeIsas(): string[] {
  return nativeAddon()?.isaVariants().filter((v) => v.runnable).map((v) => v.name) ?? [];
}

export function testBackends(): NamedBackend[] {
  const list: NamedBackend[] = [{ name: 'reference', make: () => new ReferenceBackend() }];
  const addon = nativeAddon();
  // Every kernel build this CPU runs, fastest first (generic last).
  for (const isa of nativeIsas()) list.push({ name: `native-${isa}`, make: () => new NativeBackend(addon!, { threads: 2, isa }) });
  return list;
}
