// Where draft tokens come from, behind one interface: prompt lookup, a draft model, or the target's
// own first layers. The engine core asks once per step, for every request that will decode next.

import type { CausalLM } from '../../model/architectures/decoder.js';
import { UsageError } from '../../util/errors.js';
import type { EngineConfig } from '../engine-config.js';
import { KVCacheStorage } from '../kv-cache/kv-cache-storage.js';
import type { ModelRunner } from '../runner/model-runner.js';
import type { Request } from '../request.js';
import { DraftModelProposer } from './draft-model-proposer.js';
import { proposeNgram } from './ngram-proposer.js';
import type { SpeculativeConfig } from './speculative-config.js';

export interface Proposer {
  /** Drafts write K/V: the scheduler reserves their slots (lookahead) before proposals. */
  readonly needsBlocks: boolean;
  /** Up to counts[i] draft tokens for reqs[i] (a draft model also leaves its q in req.draft.probs). */
  propose(reqs: readonly Request[], counts: readonly number[], eosTokenIds: readonly number[]): number[][];
}

export function makeProposer(spec: SpeculativeConfig, runner: ModelRunner, config: EngineConfig, draft?: CausalLM): Proposer {
  switch (spec.method) {
    case 'ngram':
      return {
        needsBlocks: false,
        propose: (reqs, counts) => reqs.map((r, i) => proposeNgram(r.tokenIds, counts[i]!, { minMatch: spec.promptLookupMin, maxMatch: spec.promptLookupMax })),
      };
    case 'layer-skip': {
      const p = new DraftModelProposer(runner.model.firstLayers(spec.draftLayers), runner.cache.layers.slice(0, spec.draftLayers), runner.batches, true);
      return { needsBlocks: true, propose: (reqs, counts, eos) => p.propose(reqs, counts, eos) };
    }
    case 'draft-model': {
      if (!draft) throw new UsageError('speculative method draft-model: no draft model was loaded');
      // The draft's own storage, indexed by the same block ids as the target's (scratch block included).
      const storage = new KVCacheStorage(draft.config, config.numBlocks + 1, config.blockSize, config.kvCacheDtype);
      const p = new DraftModelProposer(draft, storage.layers, runner.batches, false);
      return { needsBlocks: true, propose: (reqs, counts, eos) => p.propose(reqs, counts, eos) };
    }
  }
}
