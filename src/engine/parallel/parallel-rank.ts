// One rank's part of a model spread over processes: its pipeline stage's layers, its tensor-parallel
// shard of them, packed for its backend, and its membership of the world (and, with both kinds of
// parallelism, of its stage's tensor-parallel group). Rank 0 wraps it in a LeaderModel, which tells
// the other ranks each step's batch before running it; the other ranks run the same batches as
// followers (follower.ts).

import type { Backend, LayerKV } from '../../kernels/backend.js';
import { CausalLM, type ForwardBatch } from '../../model/architectures/decoder.js';
import { prepareWeights, type PreparedWeights } from '../../model/architectures/prepared-weights.js';
import type { LoadedModel } from '../../model/load-model.js';
import { shardForPipeline } from '../../model/parallel/pipeline-stage-shard.js';
import { shardForTensorParallel } from '../../model/parallel/tensor-parallel-shard.js';
import { TensorParallelOps } from '../../model/parallel/tensor-parallel-ops.js';
import { modelFingerprint } from '../../distributed/model-fingerprint.js';
import { ProcessGroup } from '../../distributed/process-group.js';
import { WorldFailedError } from '../../distributed/world-failed-error.js';
import { TSLLM_VERSION } from '../../util/version.js';
import { joinTimeoutMs, parallelLayout, type ParallelOptions } from './parallel-options.js';
import { jsonPayload, PlanChannel, PlanKind } from './plan-channel.js';
import type { FollowerSetup } from './follower.js';
import { encodeStep } from './step-plan.js';
import { StagePipeline, type ForwardOutputs, type RankLayout } from './stage-pipeline.js';

/** This rank's share of one forward pass (rank 0 gets the outputs, the others empty ones). */
export type ForwardPass = (batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number) => ForwardOutputs;

export interface ParallelRank {
  /** This rank's part as a model: its stage's layers, with its shard's heads. */
  model: CausalLM;
  /** Runs this rank's share of a pass: the whole model, or its pipeline stage between the others. */
  pass: ForwardPass;
  channel: PlanChannel;
  groups: ParallelGroups;
}

/** The world (plan broadcasts, stage-to-stage sends) and the stage's tensor-parallel group (if separate). */
export class ParallelGroups {
  constructor(readonly world: ProcessGroup, private readonly stage: ProcessGroup | null) {}

  /** Why the job broke (a dead or hung rank), or null. */
  failure(): string | null {
    return this.world.comm.failure() ?? this.stage?.comm.failure() ?? null;
  }

  close(): void {
    this.stage?.close();
    this.world.close();
  }
}

export async function joinParallel(
  loaded: LoadedModel, backend: Backend, p: ParallelOptions, rank: number, master: string, onPack?: (done: number, total: number) => void,
): Promise<ParallelRank> {
  const tp = p.tensorParallelSize;
  const at: RankLayout = { stage: Math.floor(rank / tp), stages: p.pipelineParallelSize, tpRank: rank % tp, tpSize: tp };
  const release = backend.releasePages ? { release: (d: Uint8Array) => backend.releasePages!(d) } : {};
  const stage = shardForPipeline(loaded.config, loaded.weights, { stage: at.stage, size: at.stages, ...release });
  const shard = tp > 1
    ? shardForTensorParallel(stage.config, stage.weights, { rank: at.tpRank, size: tp, expertParallel: p.enableExpertParallel, ...release })
    : null;
  const joinOptions = {
    rank, worldSize: p.worldSize, master, bindHost: p.bindHost, timeoutMs: joinTimeoutMs(p), model: modelFingerprint(loaded.config, loaded.weights), version: TSLLM_VERSION, layout: parallelLayout(p),
  };
  const world = await ProcessGroup.join(joinOptions);
  const stageGroup = tp > 1 && at.stages > 1
    ? await ProcessGroup.join({ ...joinOptions, group: { name: `stage${at.stage}-tp`, rank: at.tpRank, size: tp } })
    : null;
  const groups = new ParallelGroups(world, stageGroup);
  world.comm.setTimeout(p.timeoutMs);
  stageGroup?.comm.setTimeout(p.timeoutMs);
  const ops = shard ? new TensorParallelOps((stageGroup ?? world).comm, shard.vocab, tp, loaded.config.vocabSize) : undefined;
  const config = shard?.config ?? stage.config;
  const weights = shard?.weights ?? stage.weights;
  const prepared = prepareWeights(weights, backend, onPack, stage.last);
  const channel = new PlanChannel(world.comm);
  const model = rank === 0
    ? new LeaderModel(config, weights, backend, prepared, ops, channel, groups, p.timeoutMs, at.stages > 1 ? at : null)
    : new CausalLM(config, weights, backend, prepared, ops);
  const pass: ForwardPass = at.stages > 1
    ? (() => {
        const pipeline = new StagePipeline(model, world.comm, at);
        return (b, kv, bs) => pipeline.run(b, kv, bs);
      })()
    : (b, kv, bs) => model.forwardWithHidden(b, kv, bs);
  return { model, pass, channel, groups };
}

/** Rank 0's model: every forward pass is first broadcast to the other ranks, which run it alongside. */
export class LeaderModel extends CausalLM {
  /** An idle master broadcasts a heartbeat this often (see plan-channel.ts). */
  readonly heartbeatMs: number;
  private readonly pipeline: StagePipeline | null;

  constructor(
    config: CausalLM['config'], weights: CausalLM['weights'], backend: Backend, prepared: PreparedWeights, ops: TensorParallelOps | undefined,
    private readonly channel: PlanChannel,
    private readonly groups: ParallelGroups,
    timeoutMs: number,
    pipeline: RankLayout | null,
  ) {
    super(config, weights, backend, prepared, ops);
    this.heartbeatMs = Math.max(50, Math.min(1000, timeoutMs / 4));
    this.pipeline = pipeline ? new StagePipeline(this, groups.world.comm, pipeline) : null;
  }

  override forwardWithHidden(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): ForwardOutputs {
    try {
      this.channel.send(PlanKind.step, encodeStep(batch));
      return this.pipeline ? this.pipeline.run(batch, kv, blockSize) : super.forwardWithHidden(batch, kv, blockSize);
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
      if (this.groups.failure() === null) {
        this.channel.send(PlanKind.shutdown);
        this.channel.farewell();
      }
    } finally {
      this.groups.close();
    }
  }

  private worldError(e: Error): Error {
    const failure = this.groups.failure();
    return failure === null ? e : new WorldFailedError(failure);
  }
}
