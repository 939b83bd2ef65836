// One rank's part of a pipeline-parallel forward pass. The batch is cut into micro-batches
// (micro-batches.ts); for each, the first stage embeds the tokens, every stage runs its layers on the
// residual stream and hands it to the same tensor-parallel rank of the next stage, and the last stage
// computes the outputs, which its tensor-parallel rank 0 sends to rank 0 (the sampler). Sends are
// posted, not awaited, so a stage goes straight on to its next micro-batch: that is the overlap, and it
// also means no two stages ever wait on each other's sends in a cycle. Every send completes before the
// pass returns.

import type { LayerKV } from '../../kernels/backend.js';
import type { CausalLM, ForwardBatch } from '../../model/architectures/decoder.js';
import type { NativeCommunicator } from '../../distributed/comm-addon.js';
import { splitMicroBatches } from './micro-batches.js';

/** Where a rank sits: world rank = stage x tensorParallelSize + tensor-parallel rank (vLLM's order). */
export interface RankLayout {
  stage: number;
  stages: number;
  tpRank: number;
  tpSize: number;
}

export type ForwardOutputs = { logits: Float32Array; hidden: Float32Array };

// Point-to-point tags: kind x MAX_MICRO + micro-batch, so messages of one pass never match each other's.
const MAX_MICRO = 1024;
const TAG = { residual: 1, logits: 2, hidden: 3 } as const;

export class StagePipeline {
  private readonly first: boolean;
  private readonly last: boolean;

  constructor(
    private readonly model: CausalLM,
    private readonly world: NativeCommunicator,
    private readonly at: RankLayout,
  ) {
    this.first = at.stage === 0;
    this.last = at.stage === at.stages - 1;
  }

  /** Runs this stage's share of the pass; world rank 0 gets the whole batch's outputs, other ranks empty ones. */
  run(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): ForwardOutputs {
    const { stage, tpRank, tpSize } = this.at;
    const micro = splitMicroBatches(batch, Math.min(this.at.stages, MAX_MICRO));
    const prev = (stage - 1) * tpSize + tpRank;
    const next = (stage + 1) * tpSize + tpRank;
    const H = this.model.config.hiddenSize;
    micro.forEach(({ batch: mb }, i) => {
      let h: Float32Array;
      if (this.first) h = this.model.embedTokens(mb);
      else {
        h = this.model.residualBuffer(mb.tokenIds.length);
        this.world.recv(h, prev, TAG.residual * MAX_MICRO + i);
      }
      this.model.runLayers(h, mb, kv, blockSize);
      if (!this.last) {
        // The next micro-batch reuses the stream's buffer: the send gets its own copy.
        this.world.isend(h.slice(), next, TAG.residual * MAX_MICRO + i);
        return;
      }
      const out = this.model.outputs(h, mb);
      if (tpRank !== 0) return;
      if (out.logits.length > 0) this.world.isend(out.logits, 0, TAG.logits * MAX_MICRO + i);
      if (out.hidden.length > 0) this.world.isend(out.hidden, 0, TAG.hidden * MAX_MICRO + i);
    });
    const outputs = { logits: new Float32Array(0), hidden: new Float32Array(0) };
    if (stage === 0 && tpRank === 0) {
      const V = this.model.config.vocabSize;
      const lastStage = (this.at.stages - 1) * tpSize;
      outputs.logits = new Float32Array(batch.logitsRows.length * V);
      outputs.hidden = new Float32Array((batch.hiddenRows?.length ?? 0) * H);
      micro.forEach(({ logitsIndex, hiddenIndex }, i) => {
        receiveRows(this.world, outputs.logits, logitsIndex, V, lastStage, TAG.logits * MAX_MICRO + i);
        receiveRows(this.world, outputs.hidden, hiddenIndex, H, lastStage, TAG.hidden * MAX_MICRO + i);
      });
    }
    this.world.waitSends();
    return outputs;
  }
}

/** Receives rows [index.length, width] from `src` into rows `index` of `out`. */
function receiveRows(comm: NativeCommunicator, out: Float32Array, index: Int32Array, width: number, src: number, tag: number): void {
  if (index.length === 0) return;
  const rows = new Float32Array(index.length * width);
  comm.recv(rows, src, tag);
  index.forEach((to, r) => out.set(rows.subarray(r * width, (r + 1) * width), to * width));
}
