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
import { PostedSends } from './posted-sends.js';
import type { OverlappingModel } from '../runner/model-runner.js';

/** This rank's share of one forward pass (rank 0 gets the outputs, the others empty ones). */
const NO_OUTPUTS: ForwardOutputs = { logits: new Float32Array(0), hidden: new Float32Array(0) };

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
  // Only the rank that hands the logits on (to the sampler, or is it) assembles them.
  const assemble = at.stage === at.stages - 1 && at.tpRank === 0;
  const ops = shard ? new TensorParallelOps((stageGroup ?? world).comm, shard.vocab, tp, loaded.config.vocabSize, assemble) : undefined;
  const config = shard?.config ?? stage.config;
  const weights = shard?.weights ?? stage.weights;
  const prepared = prepareWeights(weights, backend, onPack, stage.last);
  const sends = new PostedSends(world.comm);
  const channel = new PlanChannel(world.comm, at.stages > 1 ? { sends, worldSize: p.worldSize } : null);
  if (rank === 0) {
    const model = new LeaderModel(config, weights, backend, prepared, ops, channel, groups, p.timeoutMs, at.stages > 1 ? { at, sends } : null);
    return { model, pass: (b, kv, bs) => model.forwardWithHidden(b, kv, bs), channel, groups };
  }
  const model = new CausalLM(config, weights, backend, prepared, ops);
  const pipeline = at.stages > 1 ? new StagePipeline(model, world.comm, sends, at) : null;
  const pass: ForwardPass = pipeline ? (b, kv, bs) => {
    pipeline.handOn(b, kv, bs);
    return NO_OUTPUTS;
  } : (b, kv, bs) => model.forwardWithHidden(b, kv, bs);
  return { model, pass, channel, groups };
}

/**
 * Rank 0's model: every forward pass is first sent to the other ranks, which run it alongside. With
 * pipeline stages, passes overlap: submitForward returns once rank 0's own stage has run, and the
 * engine collects the outputs later (runner/batch-queue.ts), after submitting the next pass.
 */
export class LeaderModel extends CausalLM implements OverlappingModel {
  /** An idle master sends a heartbeat this often (see plan-channel.ts). */
  readonly heartbeatMs: number;
  /** Passes that may be in flight at once: one per pipeline stage. */
  readonly maxInFlight: number;
  private readonly pipeline: { stages: StagePipeline; sends: PostedSends } | null;

  constructor(
    config: CausalLM['config'], weights: CausalLM['weights'], backend: Backend, prepared: PreparedWeights, ops: TensorParallelOps | undefined,
    private readonly channel: PlanChannel,
    private readonly groups: ParallelGroups,
    timeoutMs: number,
    pipeline: { at: RankLayout; sends: PostedSends } | null,
  ) {
    super(config, weights, backend, prepared, ops);
    this.heartbeatMs = Math.max(50, Math.min(1000, timeoutMs / 4));
    this.maxInFlight = pipeline?.at.stages ?? 1;
    this.pipeline = pipeline ? { stages: new StagePipeline(this, groups.world.comm, pipeline.sends, pipeline.at), sends: pipeline.sends } : null;
  }

  override forwardWithHidden(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): ForwardOutputs {
    if (this.pipeline) return this.submitForward(batch, kv, blockSize)();
    return this.guarded(() => {
      this.channel.send(PlanKind.step, encodeStep(batch));
      return super.forwardWithHidden(batch, kv, blockSize);
    });
  }

  submitForward(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): () => ForwardOutputs {
    const pipeline = this.pipeline;
    if (!pipeline) {
      const out = this.forwardWithHidden(batch, kv, blockSize);
      return () => out;
    }
    const mark = this.guarded(() => {
      this.channel.send(PlanKind.step, encodeStep(batch));
      return pipeline.stages.start(batch, kv, blockSize);
    });
    return () => this.guarded(() => pipeline.stages.finish(batch, mark));
  }

  /** Tells the followers the shape of the KV cache to allocate, once the engine has sized it. */
  setup(s: FollowerSetup): void {
    this.channel.send(PlanKind.setup, jsonPayload(s));
  }

  /** Keeps the followers' wait for the next step from timing out while rank 0 is idle. */
  heartbeat(): void {
    this.guarded(() => {
      this.channel.send(PlanKind.heartbeat);
      // Every rank is idle and waiting for it: a send that does not complete means a dead rank.
      this.pipeline?.sends.waitUntil();
    });
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

  /** Runs f; an error from a broken communicator becomes the job's failure. */
  private guarded<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      const failure = this.groups.failure();
      throw failure === null ? e : new WorldFailedError(failure);
    }
  }
}
