// The physical KV cache: for every layer, K and V pools of [numBlocks, blockSize, numKvHeads, headDim]
// float32. Which block belongs to which sequence is the block tables' business, not this one's.

import type { LayerKV } from '../../kernels/backend.js';

export class KVCacheStorage {
  readonly layers: LayerKV[];

  constructor(
    readonly numLayers: number,
    readonly numBlocks: number,
    readonly blockSize: number,
    readonly kvDim: number,
  ) {
    const size = numBlocks * blockSize * kvDim;
    this.layers = Array.from({ length: numLayers }, () => ({ k: new Float32Array(size), v: new Float32Array(size) }));
  }
}
