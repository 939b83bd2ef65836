// Proposals from a draft model: first a pass that brings the draft's KV up to the request's last
// token (the prompt on the first call, the tokens accepted since on later ones) and gives the first
// draft, then one pass per further draft, every request of the step in the same batch. Greedy
// requests get the draft's argmax; sampled ones a draw from the draft's own distribution under the
// request's sampling parameters, q, which the verifier's rejection sampling needs.
//
// Its KV cache lives in the target's blocks: the draft either has its own storage with as many
// blocks, indexed by the same block tables (a separate draft model), or is the target's first L
// layers and reads and writes those layers' storage (layer-skip), whose K/V are exactly the target's.
// The scheduler reserves the draft positions' slots (lookahead) in the step before proposals.

import type { LayerKV } from '../../kernels/backend.js';
import type { CausalLM } from '../../model/architectures/decoder.js';
import type { Request } from '../request.js';
import type { BatchBuilder } from '../runner/batch-builder.js';
import { argmax } from '../sampling/logprobs.js';
import { drawFrom, processLogits, samplingDistribution } from '../sampling/sampler.js';

export class DraftModelProposer {
  constructor(
    readonly draft: CausalLM,
    private readonly cache: readonly LayerKV[],
    private readonly batches: BatchBuilder,
    /** The draft is the target's own first layers: whatever the target computed, it has. */
    private readonly sharesTargetCache: boolean,
  ) {}

  /**
   * Up to k[i] draft tokens for each request, and for sampled requests the distribution each was drawn
   * from (in req.draft.probs); its blocks must cover numTokens + k[i] - 1 tokens.
   */
  propose(reqs: readonly Request[], k: readonly number[], eosTokenIds: readonly number[]): number[][] {
    const out = reqs.map(() => [] as number[]);
    reqs.forEach((r) => (r.draft.probs = []));
    if (reqs.length === 0) return out;
    const pick = (req: Request, drafts: number[], logits: Float32Array): number => {
      if (req.params.temperature === 0) return argmax(logits);
      const ctx = { params: req.params, promptTokens: req.promptIds, outputTokens: [...req.outputIds, ...drafts], eosTokenIds, rng: req.rng };
      const dist = samplingDistribution(processLogits(logits, ctx), req.params);
      const q = new Float64Array(logits.length);
      if (dist.ids) for (const i of dist.ids) q[i] = dist.weights[i]! / dist.total;
      else for (let i = 0; i < q.length; i++) q[i] = dist.weights[i]! / dist.total;
      req.draft.probs.push(q);
      return drawFrom(dist, req.rng);
    };
    const vocab = this.draft.config.vocabSize;
    // Pass 1: each request's tokens the draft has not seen, through its last one.
    const parts = reqs.map((req) => {
      const from = this.sharesTargetCache ? req.numComputedTokens : Math.min(req.draft.numComputed, req.numTokens - 1);
      return { req, from, ids: req.tokenIds.slice(from) };
    });
    let logits = this.forward(parts.map((p) => ({ req: p.req, start: p.from, ids: p.ids })));
    parts.forEach((p, i) => {
      out[i]!.push(pick(p.req, out[i]!, logits.subarray(i * vocab, (i + 1) * vocab)));
      p.req.draft.numComputed = p.req.numTokens;
    });
    // Passes 2..k: the previous draft of every request that wants more.
    for (let step = 1; ; step++) {
      const active = reqs.map((req, i) => ({ req, i })).filter(({ i }) => out[i]!.length < k[i]! && step < k[i]!);
      if (active.length === 0) break;
      logits = this.forward(active.map(({ req, i }) => ({ req, start: req.numTokens + step - 1, ids: [out[i]![step - 1]!] })));
      active.forEach(({ req, i }, row) => {
        out[i]!.push(pick(req, out[i]!, logits.subarray(row * vocab, (row + 1) * vocab)));
        req.draft.numComputed = req.numTokens + step;
      });
    }
    return out;
  }

  /** One varlen pass; logits at each part's last token, in order. */
  private forward(parts: readonly { req: Request; start: number; ids: readonly number[] }[]): Float32Array {
    const batch = this.batches.build(parts.map((p) => ({ tokenIds: p.ids, start: p.start, blockTable: p.req.blockTable, logitsFrom: p.ids.length - 1 })));
    return this.draft.forward(batch, this.cache, this.batches.blockSize);
  }
}
