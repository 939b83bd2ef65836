// File access shared by the loaders, with errors that name the file.

import fs from 'node:fs';
import { ModelLoadError } from '../errors.js';

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
