// File access shared by the loaders, with errors that name the file.

import fs from 'node:fs';
import { loadNativeAddon } from '../../kernels/native/native-addon.js';
import { ModelLoadError } from '../../util/errors.js';

export function openForRead(path: string): number {
  try {
    return fs.openSync(path, 'r');
  } catch (e) {
    throw new ModelLoadError(path, `cannot open: ${(e as Error).message}`);
  }
}

/** Fills `out` from `position`, or fails naming the file and what was being read. */
export function readExact(fd: number, out: Uint8Array, position: number, path: string, what: string): void {
  let done = 0;
  while (done < out.length) {
    const n = fs.readSync(fd, out, done, out.length - done, position + done);
    if (n === 0) throw new ModelLoadError(path, `truncated while reading ${what}`);
    done += n;
  }
}

/**
 * The whole file as a read-only memory map (the native addon's mapFile), so tensors are views into the
 * OS page cache: read once, never copied into JavaScript memory. Null without the addon, or when
 * TSLLM_NO_MMAP=1; callers then read each tensor into its own buffer.
 */
export function mapReadOnly(path: string): ArrayBuffer | null {
  if (process.env.TSLLM_NO_MMAP === '1') return null;
  const load = loadNativeAddon();
  if (!load.ok) return null;
  try {
    return load.addon.mapFile(path);
  } catch {
    return null;
  }
}
