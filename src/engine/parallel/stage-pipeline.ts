// One rank's part of a pipeline-parallel forward pass. The first stage embeds the tokens, every
// stage runs its layers on the residual stream and posts it to the same tensor-parallel rank of the
// next stage, and the last stage computes the outputs, which its tensor-parallel rank 0 posts to rank
// 0 (the sampler). A pass is started and finished apart: rank 0 starts the next pass (its own stage's
// share of it) while the later stages still run the one before, so with M stages up to M passes are
// in flight (vLLM's batch queue) and a stage is not idle while a batch crosses the others. Every rank
// runs the passes in the order rank 0 sent them, and messages between two ranks arrive in order, so a
// tag per kind of message is enough.

import type { LayerKV } from '../../kernels/backend.js';
import type { CausalLM, ForwardBatch } from '../../model/architectures/decoder.js';
import type { NativeCommunicator } from '../../distributed/comm-addon.js';
import type { PostedSends } from './posted-sends.js';

/** Where a rank sits: world rank = stage x tensorParallelSize + tensor-parallel rank (vLLM's order). */
export interface RankLayout {
  stage: number;
  stages: number;
  tpRank: number;
  tpSize: number;
}

export type ForwardOutputs = { logits: Float32Array; hidden: Float32Array };

// After the plan's tags (plan-channel.ts).
const TAG = { residual: 3, logits: 4, hidden: 5 } as const;

export class StagePipeline {
  /** Other ranks: the mark of the pass before the last, whose sends must be done before the next. */
  private handedOn = 0;

  constructor(
    private readonly model: CausalLM,
    private readonly world: NativeCommunicator,
    private readonly sends: PostedSends,
    private readonly at: RankLayout,
  ) {}

  /** Runs this stage's share of the pass and posts what it hands on; returns a mark of those sends. */
  start(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): number {
    const { stage, stages, tpRank, tpSize } = this.at;
    let h: Float32Array;
    if (stage === 0) h = this.model.embedTokens(batch);
    else {
      h = this.model.residualBuffer(batch.tokenIds.length);
      this.world.recv(h, (stage - 1) * tpSize + tpRank, TAG.residual);
    }
    this.model.runLayers(h, batch, kv, blockSize);
    if (stage < stages - 1) {
      // The next pass reuses the stream's buffer: the send gets its own copy.
      this.sends.post(h.slice(), (stage + 1) * tpSize + tpRank, TAG.residual);
    } else {
      const out = this.model.outputs(h, batch);
      if (tpRank === 0 && out.logits.length > 0) this.sends.post(out.logits, 0, TAG.logits);
      if (tpRank === 0 && out.hidden.length > 0) this.sends.post(out.hidden, 0, TAG.hidden);
    }
    return this.sends.mark();
  }

  /**
   * Rank 0: waits for the pass's outputs from the last stage, then for its own sends up to `mark`
   * (a later pass's stay in flight).
   */
  finish(batch: ForwardBatch, mark: number): ForwardOutputs {
    const last = (this.at.stages - 1) * this.at.tpSize;
    const outputs = {
      logits: new Float32Array(batch.logitsRows.length * this.model.config.vocabSize),
      hidden: new Float32Array((batch.hiddenRows?.length ?? 0) * this.model.config.hiddenSize),
    };
    if (outputs.logits.length > 0) this.world.recv(outputs.logits, last, TAG.logits);
    if (outputs.hidden.length > 0) this.world.recv(outputs.hidden, last, TAG.hidden);
    this.sends.waitUntil(mark);
    return outputs;
  }

  /**
   * The other ranks: runs this rank's share, then waits for the previous pass's sends only. This
   * pass's sends complete while the next pass runs: the last stage's logits are taken by rank 0 only
   * when it collects them, after running its own stage of the next pass, and waiting for that here
   * idled the last stage for as long.
   */
  handOn(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): void {
    const mark = this.start(batch, kv, blockSize);
    this.sends.waitUntil(this.handedOn);
    this.handedOn = mark;
  }
}
