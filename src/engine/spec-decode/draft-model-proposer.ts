// Proposals from a draft model: first a pass that brings the draft's KV up to the request's last
// token (the prompt on the first call, the tokens accepted since on later ones) and gives the first
// draft, then one pass per further draft, every request of the step in the same batch. Greedy
// requests get the draft's argmax; sampled ones a draw from the draft's own distribution under the
// request's sampling parameters, q, which the verifier's rejection sampling needs.
//
// Its KV cache lives in the target's blocks: the draft either has its own storage with as many
// blocks, indexed by the same block tables (a separate draft model), or is the target's first L
// layers and reads and writes those layers' storage (layer-skip), whose K/V are exactly the target's.
// The engine allocates the draft positions' blocks in the shared pool before asking for proposals.

import type { AttentionSeq, LayerKV } from '../../kernels/backend.js';
import { CausalLM, type ForwardBatch } from '../../model/architectures/decoder.js';
import type { Request } from '../request.js';
import { argmax } from '../sampling/logprobs.js';
import { drawFrom, processLogits, samplingDistribution } from '../sampling/sampler.js';

export class DraftModelProposer {
  constructor(
    readonly draft: CausalLM,
    private readonly cache: readonly LayerKV[],
    private readonly blockSize: number,
    /** The draft is the target's own first layers: whatever the target computed, it has. */
    private readonly sharesTargetCache: boolean,
  ) {}

  /**
   * Up to k[i] draft tokens for each request, and for sampled requests the distribution each was drawn
   * from (in req.specDraftProbs); its blocks must cover numTokens + k[i] - 1 tokens.
   */
  propose(reqs: readonly Request[], k: readonly number[], eosTokenIds: readonly number[]): number[][] {
    const out = reqs.map(() => [] as number[]);
    reqs.forEach((r) => (r.specDraftProbs = []));
    if (reqs.length === 0) return out;
    const pick = (req: Request, drafts: number[], logits: Float32Array): number => {
      if (req.params.temperature === 0) return argmax(logits);
      const ctx = { params: req.params, promptTokens: req.promptIds, outputTokens: [...req.outputIds, ...drafts], eosTokenIds, rng: req.sampling.rng };
      const dist = samplingDistribution(processLogits(logits, ctx), req.params);
      const q = new Float64Array(logits.length);
      if (dist.ids) for (const i of dist.ids) q[i] = dist.weights[i]! / dist.total;
      else for (let i = 0; i < q.length; i++) q[i] = dist.weights[i]! / dist.total;
      req.specDraftProbs.push(q);
      return drawFrom(dist, req.sampling.rng);
    };
    const vocab = this.draft.config.vocabSize;
    // Pass 1: each request's tokens the draft has not seen, through its last one.
    const parts = reqs.map((req) => {
      const from = this.sharesTargetCache ? req.numComputedTokens : Math.min(req.numDraftComputed, req.numTokens - 1);
      return { req, from, ids: req.tokenIds.slice(from) };
    });
    let logits = this.forward(parts.map((p) => ({ req: p.req, start: p.from, ids: p.ids })));
    parts.forEach((p, i) => {
      out[i]!.push(pick(p.req, out[i]!, logits.subarray(i * vocab, (i + 1) * vocab)));
      p.req.numDraftComputed = p.req.numTokens;
    });
    // Passes 2..k: the previous draft of every request that wants more.
    for (let step = 1; ; step++) {
      const active = reqs.map((req, i) => ({ req, i })).filter(({ i }) => out[i]!.length < k[i]! && step < k[i]!);
      if (active.length === 0) break;
      logits = this.forward(active.map(({ req, i }) => ({ req, start: req.numTokens + step - 1, ids: [out[i]![step - 1]!] })));
      active.forEach(({ req, i }, row) => {
        out[i]!.push(pick(req, out[i]!, logits.subarray(row * vocab, (row + 1) * vocab)));
        req.numDraftComputed = req.numTokens + step;
      });
    }
    return out;
  }

  /** One varlen pass; logits at each part's last token, in order. */
  private forward(parts: readonly { req: Request; start: number; ids: readonly number[] }[]): Float32Array {
    const bs = this.blockSize;
    const rows = parts.reduce((n, p) => n + p.ids.length, 0);
    const seqs: AttentionSeq[] = [];
    const batch: ForwardBatch = {
      tokenIds: new Int32Array(rows),
      positions: new Int32Array(rows),
      slotMapping: new Int32Array(rows),
      seqs,
      logitsRows: new Int32Array(parts.length),
    };
    let row = 0;
    parts.forEach((p, i) => {
      const table = p.req.blockTable;
      p.ids.forEach((id, j) => {
        const pos = p.start + j;
        batch.tokenIds[row + j] = id;
        batch.positions[row + j] = pos;
        batch.slotMapping[row + j] = table[Math.floor(pos / bs)]! * bs + (pos % bs);
      });
      const contextLen = p.start + p.ids.length;
      seqs.push({ queryStart: row, queryLen: p.ids.length, contextLen, blockTable: Int32Array.from(table.slice(0, Math.ceil(contextLen / bs))) });
      row += p.ids.length;
      batch.logitsRows[i] = row - 1;
    });
    return this.draft.forward(batch, this.cache, bs);
  }
}

/** The target's first `layers` layers with its final norm and head: a draft whose K/V are the target's. */
export function layerSkipDraft(target: CausalLM, layers: number): CausalLM {
  return new CausalLM({ ...target.config, numLayers: layers }, { ...target.weights, layers: target.weights.layers.slice(0, layers) }, target.backend);
}
