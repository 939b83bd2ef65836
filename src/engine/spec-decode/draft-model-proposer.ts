// Proposals from a draft model, greedy: first a pass that brings the draft's KV up to the request's
// last token (the prompt on the first call, the tokens accepted since on later ones) and gives the
// first draft, then one pass per further draft, every request of the step in the same batch.
//
// Its KV cache lives in the target's blocks: the draft either has its own storage with as many
// blocks, indexed by the same block tables (a separate draft model), or is the target's first L
// layers and reads and writes those layers' storage (layer-skip), whose K/V are exactly the target's.
// The engine allocates the draft positions' blocks in the shared pool before asking for proposals.

import type { AttentionSeq, LayerKV } from '../../kernels/backend.js';
import { CausalLM, type ForwardBatch } from '../../model/architectures/decoder.js';
import type { Request } from '../request.js';
import { argmax } from '../sampling/logprobs.js';

export class DraftModelProposer {
  constructor(
    readonly draft: CausalLM,
    private readonly cache: readonly LayerKV[],
    private readonly blockSize: number,
    /** The draft is the target's own first layers: whatever the target computed, it has. */
    private readonly sharesTargetCache: boolean,
  ) {}

  /** Up to k[i] greedy draft tokens for each request; its blocks must cover numTokens + k[i] - 1 tokens. */
  propose(reqs: readonly Request[], k: readonly number[]): number[][] {
    const out = reqs.map(() => [] as number[]);
    if (reqs.length === 0) return out;
    const vocab = this.draft.config.vocabSize;
    // Pass 1: each request's tokens the draft has not seen, through its last one.
    const parts = reqs.map((req) => {
      const from = this.sharesTargetCache ? req.numComputedTokens : Math.min(req.numDraftComputed, req.numTokens - 1);
      return { req, from, ids: req.tokenIds.slice(from) };
    });
    let logits = this.forward(parts.map((p) => ({ req: p.req, start: p.from, ids: p.ids })));
    parts.forEach((p, i) => {
      out[i]!.push(argmax(logits.subarray(i * vocab, (i + 1) * vocab)));
      p.req.numDraftComputed = p.req.numTokens;
    });
    // Passes 2..k: the previous draft of every request that wants more.
    for (let step = 1; ; step++) {
      const active = reqs.map((req, i) => ({ req, i })).filter(({ i }) => out[i]!.length < k[i]! && step < k[i]!);
      if (active.length === 0) break;
      logits = this.forward(active.map(({ req, i }) => ({ req, start: req.numTokens + step - 1, ids: [out[i]![step - 1]!] })));
      active.forEach(({ req, i }, row) => {
        out[i]!.push(argmax(logits.subarray(row * vocab, (row + 1) * vocab)));
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
