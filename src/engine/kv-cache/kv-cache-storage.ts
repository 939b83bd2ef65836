// The physical KV cache: for every layer, K and V pools of [numBlocks, numKvHeads, blockSize] head
// records in the cache's dtype (kernels/kv-cache-dtype.ts), in native memory when the addon is built
// (committed page by page as blocks are first written, so a large budget costs nothing until it is
// used). Which block belongs to which sequence is the block tables' business, not this one's.

import { constants as bufferConstants } from 'node:buffer';
import type { LayerKV } from '../../kernels/backend.js';
import type { MlaConfig } from '../../model/config.js';
import { kvDTypeUnsupported, kvHeadBytes, type KVCacheDType } from '../../kernels/kv-cache-dtype.js';
import { loadNativeAddon } from '../../kernels/native/native-addon.js';
import { UsageError } from '../../util/errors.js';

export interface KVCacheShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** Latent attention: the values are the keys (its latent records), one pool serves as K and V. */
  mla?: MlaConfig;
}

const REGION_BYTES = 1 << 30;

export class KVCacheStorage {
  readonly layers: LayerKV[];

  constructor(
    readonly shape: KVCacheShape,
    readonly numBlocks: number,
    readonly blockSize: number,
    readonly dtype: KVCacheDType,
  ) {
    const unsupported = kvDTypeUnsupported(dtype, shape.headDim);
    if (unsupported) throw new UsageError(unsupported);
    const bytes = numBlocks * blockSize * shape.numKvHeads * kvHeadBytes(dtype, shape.headDim);
    if (bytes > bufferConstants.MAX_LENGTH) {
      throw new UsageError(`one layer's KV pool of ${numBlocks} blocks is ${bytes} bytes, more than one buffer holds (${bufferConstants.MAX_LENGTH}): use fewer blocks`);
    }
    const addon = loadNativeAddon();
    const pools = shape.numLayers * (shape.mla ? 1 : 2);
    let alloc = () => new Uint8Array(bytes);
    if (addon.ok) {
      // Decode attention visits every layer's blocks once a token, a few KiB per block run scattered
      // over the pools: on 4 KiB pages nearly every run is a TLB miss and a page walk. Consecutive
      // pools share one region on transparent huge pages (up to REGION_BYTES each), which took ~10%
      // off decode attention on the Zen 5 host (docs/BENCHMARKS.md).
      const perRegion = Math.max(1, Math.min(pools, Math.floor(REGION_BYTES / bytes)));
      let region: ArrayBuffer | null = null;
      let used = 0, left = pools;
      alloc = () => {
        if (!region || used === perRegion) {
          region = addon.addon.allocate(bytes * Math.min(perRegion, left), true);
          used = 0;
        }
        left--;
        return new Uint8Array(region, bytes * used++, bytes);
      };
    }
    this.layers = Array.from({ length: shape.numLayers }, () => {
      const k = alloc();
      return { k, v: shape.mla ? k : alloc(), dtype, blockSize };
    });
  }
}
