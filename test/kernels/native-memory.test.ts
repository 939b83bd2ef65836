// Native memory: the addon's anonymous regions (KV cache, repacked weights), and the transparent huge
// pages the weights ask for, observed through the kernel's own accounting of this process.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { nativeAddon } from '../helpers/backends.js';

const addon = nativeAddon();

function thpMode(): string {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'never';
  } catch {
    return 'never';
  }
}

function anonHugeKiB(): number {
  const m = /AnonHugePages:\s+(\d+) kB/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  return m ? Number(m[1]) : 0;
}

describe('native memory', { skip: !addon }, () => {
  it('allocate gives zero-filled memory of the size asked, with or without huge pages', () => {
    for (const huge of [false, true]) {
      for (const bytes of [1, 4097, (2 << 20) + 12345]) {
        const a = new Uint8Array(addon!.allocate(bytes, huge));
        assert.equal(a.length, bytes);
        assert.ok(a.every((v) => v === 0));
        a.fill(7);
        assert.equal(a[bytes - 1], 7);
      }
    }
    assert.throws(() => addon!.allocate(0), /bytes must be a positive number/);
  });

  const mode = thpMode();
  it('weights asked on huge pages get them where the system grants them (madvise or always)', {
    skip: (mode !== 'madvise' && mode !== 'always' || !readable()) && `transparent huge pages: ${mode}`,
  }, () => {
    const before = anonHugeKiB();
    const a = new Uint8Array(addon!.allocate(16 << 20, true));
    for (let i = 0; i < a.length; i += 4096) a[i] = 1;
    const gained = anonHugeKiB() - before;
    // The kernel may refuse a huge page when memory is fragmented; most of 16 MiB must come as such.
    assert.ok(gained >= 8 << 10, `only ${gained} KiB of 16 MiB on huge pages`);
    assert.equal(a[a.length - 4096], 1);
  });
});

function readable(): boolean {
  try {
    readFileSync('/proc/self/smaps_rollup', 'utf8');
    return true;
  } catch {
    return false;
  }
}
