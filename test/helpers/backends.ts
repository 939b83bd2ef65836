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

export function testBackends(): NamedBackend[] {
  const list: NamedBackend[] = [{ name: 'reference', make: () => new ReferenceBackend() }];
  const addon = nativeAddon();
  if (addon) {
    list.push({ name: `native-${addon.cpuIsa()}`, make: () => new NativeBackend(addon, { threads: 2 }) });
    if (addon.cpuIsa() !== 'generic') list.push({ name: 'native-generic', make: () => new NativeBackend(addon, { threads: 2, portable: true }) });
  }
  return list;
}
