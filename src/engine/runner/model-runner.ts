// Turns one scheduler decision into one forward pass, with logits only for the requests whose
// scheduled tokens reach their end (a prompt chunk in the middle needs none). A request's draft
// tokens follow its real ones, with logits at the last real token and at every draft, so all of them
// are verified by this one pass. Padding rows of a static batch write to a scratch block. Embedding
// requests take no logits: their pooled hidden rows instead, and their embedding when the prompt ends.
// Requests that want prompt logprobs take logits at every prompt row.

import type { CausalLM, ForwardBatch } from '../../model/architectures/decoder.js';
import type { LayerKV } from '../../kernels/backend.js';
import type { KVCacheDType } from '../../kernels/kv-cache-dtype.js';
import { KVCacheStorage } from '../kv-cache/kv-cache-storage.js';
import type { Request } from '../request.js';
import type { SchedulerOutput } from '../scheduler/scheduler.js';
import { BatchBuilder, type BatchPart } from './batch-builder.js';
import { accumulatePooled, finishPooled, pooledRows } from '../pooling/pooler.js';
import { collectPromptLogprobs, wantsPromptLogprobs } from '../sampling/prompt-logprobs.js';

export interface SampledRequest {
  req: Request;
  /** Drafts to verify; the request owns drafts.length + 1 consecutive rows of logits. */
  drafts: number[];
}

/** Where one request's rows of logits are: its prompt-logprob rows, then its sampled rows. */
interface LogitsRows {
  req: Request;
  start: number;
  promptRows: number;
  sampleRows: number;
}

export interface PooledRequest {
  req: Request;
  embedding: Float32Array;
}

export interface ModelRunnerOutput {
  /** Requests to sample for, in the order of their rows of `logits`. */
  sampled: SampledRequest[];
  /** [sum of (drafts + 1), vocab] */
  logits: Float32Array;
  /** Embedding requests whose prompt this pass finished. */
  pooled: PooledRequest[];
}

/** A model whose passes may overlap (a pipeline's rank 0): a pass is submitted now, its outputs collected later. */
export interface OverlappingModel {
  readonly maxInFlight: number;
  submitForward(batch: ForwardBatch, kv: readonly LayerKV[], blockSize: number): () => { logits: Float32Array; hidden: Float32Array };
}

/** A pass submitted and not yet collected. */
export interface SubmittedRun {
  sampled: SampledRequest[];
  rowsOf: LogitsRows[];
  pooling: PoolingRows[];
  outputs: () => { logits: Float32Array; hidden: Float32Array };
}

interface PoolingRows {
  req: Request;
  start: number;
  rows: number;
  reachesEnd: boolean;
}

export class ModelRunner {
  /** Passes that may be in flight at once (1 unless the model's passes overlap). */
  readonly maxInFlight: number;
  private readonly overlapping: OverlappingModel | null;
  readonly cache: KVCacheStorage;
  readonly batches: BatchBuilder;
  private readonly scratchBlock: number;

  constructor(
    readonly model: CausalLM,
    readonly numBlocks: number,
    readonly blockSize: number,
    kvCacheDtype: KVCacheDType,
  ) {
    // One block beyond the pool's: the scratch block for padding rows.
    this.cache = new KVCacheStorage(model.config, numBlocks + 1, blockSize, kvCacheDtype);
    this.scratchBlock = numBlocks;
    this.batches = new BatchBuilder(blockSize);
    this.overlapping = overlapping(model);
    this.maxInFlight = this.overlapping?.maxInFlight ?? 1;
  }

  run(plan: SchedulerOutput): ModelRunnerOutput {
    return this.collect(this.submit(plan));
  }

  /** Builds the pass and starts it: with an overlapping model it may still be running on return. */
  submit(plan: SchedulerOutput): SubmittedRun {
    const parts: BatchPart[] = [];
    const sampled: SampledRequest[] = [];
    const pooling: PoolingRows[] = [];
    const rowsOf: LogitsRows[] = [];
    for (const { req, numNewTokens, draftTokens = [] } of plan.scheduled) {
      const start = req.numComputedTokens;
      const numReal = numNewTokens - draftTokens.length;
      const reachesEnd = start + numReal === req.numTokens;
      const hiddenRows = req.pooling ? pooledRows(req.pooling, start, numReal, reachesEnd) : undefined;
      const promptRows = wantsPromptLogprobs(req) ? numReal - (reachesEnd ? 1 : 0) : 0;
      parts.push({
        tokenIds: draftTokens.length > 0 ? [...req.tokenIds.slice(start, start + numReal), ...draftTokens] : req.tokenIds.slice(start, start + numReal),
        start,
        blockTable: req.blockTable,
        logitsFrom: promptRows > 0 ? 0 : reachesEnd && !req.pooling ? numReal - 1 : numNewTokens,
        promptLen: req.promptIds.length,
        ...(hiddenRows ? { hiddenRows } : {}),
      });
      const sampleRows = !hiddenRows && reachesEnd ? draftTokens.length + 1 : 0;
      rowsOf.push({ req, start, promptRows, sampleRows });
      if (hiddenRows) pooling.push({ req, start, rows: hiddenRows[1], reachesEnd });
      else if (reachesEnd) sampled.push({ req, drafts: draftTokens });
    }
    const batch = this.batches.build(parts, plan.paddingRows, this.scratchBlock);
    if (this.overlapping) return { sampled, rowsOf, pooling, outputs: this.overlapping.submitForward(batch, this.cache.layers, this.blockSize) };
    const out = this.model.forwardWithHidden(batch, this.cache.layers, this.blockSize);
    return { sampled, rowsOf, pooling, outputs: () => out };
  }

  /** Waits for a submitted pass and takes its outputs. */
  collect(run: SubmittedRun): ModelRunnerOutput {
    const { logits, hidden } = run.outputs();
    return { sampled: run.sampled, logits: this.takePromptLogprobs(run.rowsOf, logits), pooled: this.pool(run.pooling, hidden) };
  }

  /** Prompt rows' logits into their requests' prompt logprobs; the sampled rows, packed, are returned. */
  private takePromptLogprobs(rowsOf: readonly LogitsRows[], logits: Float32Array): Float32Array {
    if (!rowsOf.some((r) => r.promptRows > 0)) return logits;
    const V = this.model.config.vocabSize;
    const packed = new Float32Array(rowsOf.reduce((n, r) => n + r.sampleRows, 0) * V);
    let row = 0;
    let out = 0;
    for (const { req, start, promptRows, sampleRows } of rowsOf) {
      if (promptRows > 0) collectPromptLogprobs(req, start, logits.subarray(row * V, (row + promptRows) * V), promptRows, V);
      row += promptRows;
      packed.set(logits.subarray(row * V, (row + sampleRows) * V), out * V);
      row += sampleRows;
      out += sampleRows;
    }
    return packed;
  }

  private pool(pooling: readonly PoolingRows[], hidden: Float32Array): PooledRequest[] {
    const H = this.model.config.hiddenSize;
    const pooled: PooledRequest[] = [];
    let row = 0;
    for (const { req, start, rows, reachesEnd } of pooling) {
      if (rows > 0) accumulatePooled(req, start, hidden.subarray(row * H, (row + rows) * H), H);
      row += rows;
      if (reachesEnd) pooled.push({ req, embedding: finishPooled(req) });
    }
    return pooled;
  }
}

function overlapping(model: CausalLM): OverlappingModel | null {
  const m = model as CausalLM & Partial<OverlappingModel>;
  return m.maxInFlight !== undefined && m.maxInFlight > 1 && m.submitForward ? (m as OverlappingModel) : null;
}
