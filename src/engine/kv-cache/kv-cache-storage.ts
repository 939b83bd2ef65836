// The physical KV cache: for every layer, K and V pools of [numBlocks, blockSize, numKvHeads, headDim]
// float32, in native memory when the addon is built (committed page by page as blocks are first
// written, so a large budget costs nothing until it is used). Which block belongs to which sequence
// is the block tables' business, not this one's.

import type { LayerKV } from '../../kernels/backend.js';
import { loadNativeAddon } from '../../kernels/native/native-addon.js';

export class KVCacheStorage {
  readonly layers: LayerKV[];

  constructor(
    readonly numLayers: number,
    readonly numBlocks: number,
    readonly blockSize: number,
    readonly kvDim: number,
  ) {
    const size = numBlocks * blockSize * kvDim;
    const addon = loadNativeAddon();
    const alloc = addon.ok ? (n: number) => new Float32Array(addon.addon.allocate(n * 4)) : (n: number) => new Float32Array(n);
    this.layers = Array.from({ length: numLayers }, () => ({ k: alloc(size), v: alloc(size) }));
  }

  /** Bytes of K and V per token, all layers together. */
  static bytesPerToken(numLayers: number, kvDim: number): number {
    return 2 * numLayers * kvDim * 4;
  }
}
