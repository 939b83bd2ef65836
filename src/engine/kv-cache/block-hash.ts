// Prefix-cache keys. A full block's hash covers its parent's hash and its own token ids, so equal
// hashes mean equal whole prefixes, not just equal blocks. SHA-256 keeps collisions out of reach.

import { createHash } from 'node:crypto';

/** `salt`: what else the first block's K/V depend on (the model's prefixCacheSalt), '' for nothing. */
export function hashBlock(parentHash: string | null, tokenIds: readonly number[], start: number, blockSize: number, salt = ''): string {
  const h = createHash('sha256');
  if (parentHash !== null) h.update(parentHash, 'hex');
  else if (salt !== '') h.update(`salt:${salt}`);
  h.update(Buffer.from(Int32Array.from(tokenIds.slice(start, start + blockSize)).buffer));
  return h.digest('hex');
}

/** Extends `hashes` to cover every full block of `tokenIds` (the ones already there are kept). */
export function extendBlockHashes(hashes: string[], tokenIds: readonly number[], blockSize: number, salt = ''): void {
  const full = Math.floor(tokenIds.length / blockSize);
  for (let b = hashes.length; b < full; b++) hashes.push(hashBlock(b > 0 ? hashes[b - 1]! : null, tokenIds, b * blockSize, blockSize, salt));
}
