// One rank's part of a tensor-parallel model: its shard of the weights, packed for its backend, and
// its membership of the group. Rank 0 wraps it in a LeaderModel, which tells the other ranks each
// step's batch before running it; the other ranks run the same batches as followers (follower.ts).

import type { Backend, LayerKV } from '../../kernels/backend.js';
import { CausalLM, type ForwardBatch } from '../../model/architectures/decoder.js';
import { prepareWeights, type PreparedWeights } from '../../model/architectures/prepared-weights.js';
import type { LoadedModel } from '../../model/load-model.js';
import { shardForTensorParallel } from '../../model/parallel/tensor-parallel-shard.js';
import { TensorParallelOps } from '../../model/parallel/tensor-parallel-ops.js';
import { modelFingerprint } from '../../distributed/model-fingerprint.js';
import { ProcessGroup } from '../../distributed/process-group.js';
import { WorldFailedError } from '../../distributed/world-failed-error.js';
import { TSLLM_VERSION } from '../../util/version.js';
import { joinTimeoutMs, type ParallelOptions } from './parallel-options.js';
import { jsonPayload, PlanChannel, PlanKind } from './plan-channel.js';
import type { FollowerSetup } from './follower.js';
import { encodeStep } from './step-plan.js';

export interface TensorParallelRank {
  /** This rank's shard as a model (config with this rank's heads). */
  model: CausalLM;
  group: ProcessGroup;
  channel: PlanChannel;
}

export async function joinTensorParallel(
  loaded: LoadedModel, backend: Backend, p: ParallelOptions, rank: number, master: string, onPack?: (done: number, total: number) => void,
): Promise<TensorParallelRank> {
  const size = p.tensorParallelSize;
  const shard = shardForTensorParallel(loaded.config, loaded.weights, {
    rank, size, expertParallel: p.enableExpertParallel, ...(backend.releasePages ? { release: (d: Uint8Array) => backend.releasePages!(d) } : {}),
  });
  const group = await ProcessGroup.join({
    rank, worldSize: size, master, bindHost: p.bindHost, timeoutMs: joinTimeoutMs(p), model: modelFingerprint(loaded.config, loaded.weights), version: TSLLM_VERSION,
  });
  group.comm.setTimeout(p.timeoutMs);
  const ops = new TensorParallelOps(group.comm, shard.vocab, size, loaded.config.vocabSize);
  const prepared = prepareWeights(shard.weights, backend, onPack);
  const channel = new PlanChannel(group.comm);
  const model = rank === 0
    ? new LeaderModel(shard.config, shard.weights, backend, prepared, ops, channel, group, p.timeoutMs)
    : new CausalLM(shard.config, shard.weights, backend, prepared, ops);
  return { model, group, channel };
}

/** Rank 0's model: every forward pass is first broadcast to the other ranks, which run it alongside. */
export class LeaderModel extends CausalLM {
  /** An idle master broadcasts a heartbeat this often (see plan-channel.ts). */
  readonly heartbeatMs: number;

  constructor(
    config: CausalLM['config'], weights: CausalLM['weights'], backend: Backend, prepared: PreparedWeights, ops: TensorParallelOps,
    private readonly channel: PlanChannel,
    private readonly group: ProcessGroup,
    timeoutMs: number,
  ) {
    super(config, weights, backend, prepared, ops);
    this.heartbeatMs = Math.max(50, Math.min(1000, timeoutMs / 4));
  }

  override forwardWithHidden(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): { logits: Float32Array; hidden: Float32Array } {
    try {
      this.channel.send(PlanKind.step, encodeStep(batch));
      return super.forwardWithHidden(batch, kv, blockSize);
    } catch (e) {
      throw this.worldError(e as Error);
    }
  }

  /** Tells the followers the shape of the KV cache to allocate, once the engine has sized it. */
  setup(s: FollowerSetup): void {
    this.channel.send(PlanKind.setup, jsonPayload(s));
  }

  /** Keeps the followers' wait for the next step from timing out while rank 0 is idle. */
  heartbeat(): void {
    try {
      this.channel.send(PlanKind.heartbeat);
    } catch (e) {
      throw this.worldError(e as Error);
    }
  }

  shutdown(): void {
    try {
      if (this.group.comm.failure() === null) {
        this.channel.send(PlanKind.shutdown);
        this.channel.farewell();
      }
    } finally {
      this.group.close();
    }
  }

  private worldError(e: Error): Error {
    const failure = this.group.comm.failure();
    return failure === null ? e : new WorldFailedError(failure);
  }
}
