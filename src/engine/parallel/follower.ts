// A rank other than 0: loads its shard, joins the group, then runs every batch rank 0 broadcasts,
// against its own share of the KV cache, until rank 0 says shut down. Its outputs are its part of
// each collective; rank 0 alone samples. A dead or hung master, or a dead peer, surfaces here as a
// communicator error within the timeout, and the process exits non-zero.

import { createBackend } from '../../kernels/create-backend.js';
import { resolveHubModel } from '../../model/hub/hub-download.js';
import { loadModel } from '../../model/load-model.js';
import { KVCacheStorage } from '../kv-cache/kv-cache-storage.js';
import type { EngineOptions } from '../engine-options.js';
import type { KVCacheDType } from '../../kernels/kv-cache-dtype.js';
import { resolveParallelOptions } from './parallel-options.js';
import { fromJsonPayload, PlanKind } from './plan-channel.js';
import { decodeStep } from './step-plan.js';
import { joinParallel } from './parallel-rank.js';

/** What rank 0 sends once the engine is configured: the shape of the KV cache every rank allocates. */
export interface FollowerSetup {
  numBlocks: number;
  blockSize: number;
  kvCacheDtype: KVCacheDType;
}

export async function runFollower(options: EngineOptions, rank: number, master: string, log: (line: string) => void): Promise<void> {
  const p = resolveParallelOptions(options);
  const backend = createBackend({ ...(options.backend ? { backend: options.backend } : {}), ...(options.threads ? { threads: options.threads } : {}) });
  const loaded = await loadModel(options.model, {
    ...(options.loadFormat ? { loadFormat: options.loadFormat } : {}),
    ...(options.quantization ? { quantization: { format: options.quantization, backend } } : {}),
    resolveHubId: resolveHubModel,
  });
  const { model, pass, groups, channel } = await joinParallel(loaded, backend, p, rank, master);
  log(`tsllm worker: rank ${rank} of ${p.worldSize} joined ${master} (${backend.name})`);
  let cache: KVCacheStorage | null = null;
  let blockSize = 0;
  try {
    for (;;) {
      const m = channel.receive();
      if (m.kind === PlanKind.shutdown) {
        channel.farewell();
        return;
      }
      if (m.kind === PlanKind.setup) {
        const s = fromJsonPayload<FollowerSetup>(m.payload);
        cache = new KVCacheStorage(model.config, s.numBlocks + 1, s.blockSize, s.kvCacheDtype);
        blockSize = s.blockSize;
      } else if (m.kind === PlanKind.step) {
        if (!cache) throw new Error('rank 0 sent a step before the setup');
        pass(decodeStep(m.payload), cache.layers, blockSize);
      }
    }
  } finally {
    groups.close();
  }
}
