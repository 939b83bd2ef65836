// The engine as the main thread sees it: the engine core runs in a worker thread; requests go in with
// `generate`, which returns an async iterable of outputs, and `abort` (or leaving the iteration early)
// ends a request at the worker's next step. n samples of one prompt run as n requests, tagged with
// their index.

import { Worker } from 'node:worker_threads';
import { UsageError } from '../util/errors.js';
import { Tokenizer } from '../model/tokenizer/tokenizer.js';
import { describeCapacity } from './engine-config.js';
import type { RequestOutput } from './output/output-processor.js';
import { OutputStream, type SampleOutput } from './output/output-stream.js';

export type { SampleOutput } from './output/output-stream.js';
import type { EngineStats } from './engine-requests.js';
import type { EngineInfo, EngineOptions } from './engine-options.js';
import { deserializeError, type FromWorker, type LoadProgress, type ToWorker, type WorkerData } from './engine-protocol.js';
import { loadProgressBar } from './load-progress-bar.js';
import { epochMs } from './request.js';
import type { PoolingParams } from './pooling/pooler.js';
import { makeSamplingParams, type SamplingParams } from './sampling/sampling-params.js';
import { resolveParallelOptions } from './parallel/parallel-options.js';
import { LocalWorld } from './parallel/local-world.js';
import { WorldFailedError } from '../distributed/world-failed-error.js';
import type { KVTransferRequest, RemoteBlocks } from './kv-transfer/kv-transfer-config.js';

// An embedding request samples nothing; the engine still wants a parameter set.
const EMBEDDING_PARAMS = makeSamplingParams({ maxTokens: 1 });

export interface GenerateOptions {
  requestId?: string;
  priority?: number;
  /** Prefill/decode disaggregation (the request's kv_transfer_params, parsed). */
  kvTransfer?: KVTransferRequest;
}

export class AsyncEngine {
  private readonly streams = new Map<string, { stream: OutputStream; index: number }>();
  private nextId = 0;
  private closed: Promise<void> | null = null;
  private exitError: Error | null = null;
  private exited = false;
  /** The engine's gauges and counters after its latest step. */
  stats: EngineStats | null = null;
  /** Set once a rank of a multi-process job failed: the engine has stopped for good. */
  failed: WorldFailedError | null = null;
  /** Called once when the engine stops for good (a failed rank). */
  onFailed: ((e: WorldFailedError) => void) | null = null;
  /** Called with each step's outputs (the server's metrics hook). */
  onOutputs: ((outputs: readonly RequestOutput[], stats: EngineStats) => void) | null = null;

  /** The same tokenizer as the worker's, for work that must not wait behind a forward pass. */
  readonly tokenizer: Tokenizer | null;

  private constructor(
    private readonly worker: Worker,
    readonly info: EngineInfo,
    /** The other ranks of a multi-process job and their meeting point; null on one process. */
    readonly world: LocalWorld | null,
  ) {
    this.tokenizer = info.tokenizer ? new Tokenizer(info.tokenizer.json, info.tokenizer.options) : null;
    worker.on('message', (m: FromWorker) => this.receive(m));
    worker.on('error', (e) => this.failAll(e));
    worker.on('exit', (code) => {
      this.exited = true;
      this.failAll(new Error(`the engine worker exited (code ${code})`));
    });
    worker.unref();
  }

  /**
   * Starts the worker and waits until the model is loaded; `log` gets the start-up summary line.
   * `progress`: a bar on stderr while the layers load (default: when stderr is a terminal), or a
   * function that hears of each layer.
   */
  static async start(options: EngineOptions, log?: (line: string) => void, progress: boolean | ((p: LoadProgress) => void) = process.stderr.isTTY === true): Promise<AsyncEngine> {
    const parallel = resolveParallelOptions(options);
    const world = parallel.worldSize > 1 ? await LocalWorld.start(options, parallel) : null;
    try {
      return await AsyncEngine.startWorker(options, world, log, progress);
    } catch (e) {
      await world?.close();
      throw e;
    }
  }

  private static startWorker(options: EngineOptions, world: LocalWorld | null, log: ((line: string) => void) | undefined, progress: boolean | ((p: LoadProgress) => void)): Promise<AsyncEngine> {
    const data: WorkerData = { options, ...(world ? { master: world.master } : {}) };
    const worker = new Worker(new URL('./engine-worker.js', import.meta.url), { workerData: data });
    const bar = progress === true ? loadProgressBar() : null;
    const onProgress = typeof progress === 'function' ? progress : (p: LoadProgress) => bar?.update(p);
    return new Promise<AsyncEngine>((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.type === 'load-progress') onProgress(m);
        else if (m.type === 'ready') {
          bar?.stop();
          worker.off('message', onMessage).off('error', reject).off('exit', onExit);
          log?.(`tsllm: ${m.info.source} loaded in ${(m.info.loadMs / 1000).toFixed(1)} s on ${m.info.backend}; KV cache ${describeCapacity(m.info.config)}, ` +
            `up to ${m.info.config.maxNumSeqs} sequences and ${m.info.config.maxNumBatchedTokens} tokens per step`);
          resolve(new AsyncEngine(worker, m.info, world));
        } else if (m.type === 'load-failed') {
          bar?.stop();
          worker.off('exit', onExit);
          reject(deserializeError(m.error));
        }
      };
      const onExit = (code: number) => {
        bar?.stop();
        reject(new Error(`the engine worker exited during start-up (code ${code})`));
      };
      worker.on('message', onMessage).on('error', reject).on('exit', onExit);
    });
  }

  /** Sequences submitted and not finished (n samples of a request count n). */
  get numInFlightSequences(): number {
    return this.streams.size;
  }

  /**
   * Submits one prompt (text, or token ids) and returns its outputs as they are produced. Admission
   * errors (an overlong prompt, a prompt larger than the KV cache) end the iteration with a UsageError.
   */
  generate(prompt: string | number[], params: SamplingParams, opts: GenerateOptions = {}): AsyncIterable<SampleOutput> {
    return this.submit(prompt, params, opts);
  }

  /**
   * Embeds one prompt: its hidden states pooled as `pooling` says, computed in the batch beside
   * generation. Rejects as generate's iteration would, and when the request is aborted.
   */
  async embed(prompt: string | number[], pooling: PoolingParams, opts: GenerateOptions = {}): Promise<SampleOutput & { embedding: Float32Array }> {
    let last: SampleOutput | undefined;
    for await (const o of this.submit(prompt, EMBEDDING_PARAMS, opts, pooling)) last = o;
    if (!last?.embedding) throw new Error(`the embedding request ended without a result (${last?.finishReason ?? 'no output'})`);
    return last as SampleOutput & { embedding: Float32Array };
  }

  /**
   * Embeds every prompt, all in flight at once; waits for all of them, then rejects with the first
   * failure, or resolves in input order. `requestIds` names them (for aborts).
   */
  async embedAll(prompts: readonly (string | number[])[], pooling: PoolingParams, requestIds?: readonly string[]): Promise<(SampleOutput & { embedding: Float32Array })[]> {
    const results = await Promise.allSettled(prompts.map((p, k) => this.embed(p, pooling, requestIds ? { requestId: requestIds[k]! } : {})));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<SampleOutput & { embedding: Float32Array }>).value);
  }

  private submit(prompt: string | number[], params: SamplingParams, opts: GenerateOptions, pooling?: PoolingParams): AsyncIterable<SampleOutput> {
    if (this.closed || this.exitError) throw this.exitError ?? new UsageError('the engine is closed');
    const base = opts.requestId ?? `req-${this.nextId++}`;
    const ids = params.n === 1 ? [base] : Array.from({ length: params.n }, (_, i) => `${base}#${i}`);
    for (const id of ids) if (this.streams.has(id)) throw new UsageError(`request id ${id} is already in use`);
    const stream = new OutputStream(ids, () => this.abort(base));
    const arrival = epochMs();
    ids.forEach((id, index) => {
      this.streams.set(id, { stream, index });
      this.send({ type: 'add', id, prompt, params, priority: opts.priority ?? 0, sampleIndex: index, arrival, ...(pooling ? { pooling } : {}), ...(opts.kvTransfer ? { kvTransfer: opts.kvTransfer } : {}) });
    });
    this.worker.ref();
    return stream;
  }

  /** Tells a prefill server its blocks for a request this engine will not run are no longer wanted. */
  releaseRemoteKv(remote: RemoteBlocks): void {
    if (!this.closed && !this.exitError) this.send({ type: 'kv-release', remote });
  }

  /** Ends a request (all of its samples) at the worker's next step; its blocks are freed there. */
  abort(requestId: string): void {
    const ids = [...this.streams.keys()].filter((id) => id === requestId || id.startsWith(`${requestId}#`));
    if (ids.length > 0) this.send({ type: 'abort', ids });
  }

  async close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      this.worker.once('exit', () => resolve());
      this.send({ type: 'shutdown' });
      this.worker.ref();
    }).then(() => this.world?.close());
    return this.closed;
  }

  private send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private receive(m: FromWorker): void {
    switch (m.type) {
      case 'admitted': {
        const s = this.streams.get(m.id);
        s?.stream.admitted(s.index, m.promptTokenIds);
        break;
      }
      case 'rejected': {
        const s = this.streams.get(m.id);
        if (!s) break;
        // One sample rejected means all are: the prompt is the same.
        for (const id of s.stream.ids) this.streams.delete(id);
        this.send({ type: 'abort', ids: s.stream.ids });
        s.stream.fail(deserializeError(m.error));
        break;
      }
      case 'outputs':
        this.stats = m.stats;
        for (const o of m.outputs) {
          const s = this.streams.get(o.requestId);
          if (!s) continue;
          if (o.finishReason) this.streams.delete(o.requestId);
          s.stream.push({ ...o, index: s.index });
        }
        this.onOutputs?.(m.outputs, m.stats);
        break;
      case 'world-failed': {
        const e = new WorldFailedError(m.error.message.replace(/^a rank of the parallel job failed: /, ''));
        this.failed = e;
        this.failAll(e);
        this.onFailed?.(e);
        break;
      }
      case 'step-failed':
        for (const id of m.ids) {
          const s = this.streams.get(id);
          this.streams.delete(id);
          s?.stream.fail(new Error(`internal engine error, request ended: ${m.error.message}`));
        }
        break;
      default:
        break;
    }
    if (this.streams.size === 0) this.worker.unref();
  }

  private failAll(e: Error): void {
    this.exitError ??= e;
    for (const { stream } of this.streams.values()) stream.fail(e);
    this.streams.clear();
  }
}
