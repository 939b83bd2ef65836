// The engine core's thread: loads the model, then runs the step loop for as long as there is work,
// taking requests and aborts between steps and posting each step's outputs. Forward passes block this
// thread only, so the main thread (HTTP, streaming, metrics) stays responsive.

import { parentPort, workerData } from 'node:worker_threads';
import { createBackend } from '../kernels/create-backend.js';
import { CausalLM } from '../model/architectures/decoder.js';
import { UsageError } from '../util/errors.js';
import { resolveHubModel } from '../model/hub/hub-download.js';
import { loadModel } from '../model/load-model.js';
import { resolveEngineConfig } from './engine-config.js';
import { EngineCore } from './engine-core.js';
import type { EngineInfo } from './engine-options.js';
import { serializeError, type AddRequestMessage, type FromWorker, type LoadProgress, type ToWorker, type WorkerData } from './engine-protocol.js';
import { prepareWeights } from '../model/architectures/prepared-weights.js';
import { resolveParallelOptions } from './parallel/parallel-options.js';
import { joinParallel, LeaderModel } from './parallel/parallel-rank.js';
import type { FollowerSetup } from './parallel/follower.js';
import { WorldFailedError } from '../distributed/world-failed-error.js';
import { modelFingerprint } from '../distributed/model-fingerprint.js';
import { KVConnector } from './kv-transfer/kv-connector.js';
import type { EngineStats } from './engine-requests.js';
import { KVEventPublisher } from './kv-events/kv-event-publisher.js';

const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

interface Started {
  core: EngineCore;
  connector: KVConnector | null;
  events: KVEventPublisher | null;
}

async function start(): Promise<Started> {
  const { options, master } = workerData as WorkerData;
  const parallel = resolveParallelOptions(options);
  if (parallel.worldSize > 1 && options.kvTransfer) throw new UsageError('--kv-transfer-role does not combine with --tensor-parallel-size or --pipeline-parallel-size > 1 yet');
  // A draft model or the target's first layers would run forward passes the other ranks never see.
  if (parallel.worldSize > 1 && (options.speculativeModel || options.speculativeMethod === 'layer-skip')) {
    throw new UsageError('with --tensor-parallel-size or --pipeline-parallel-size > 1 only n-gram speculative decoding runs (no draft model, no layer skip) yet');
  }
  const t0 = performance.now();
  const backend = createBackend({ ...(options.backend ? { backend: options.backend } : {}), ...(options.threads ? { threads: options.threads } : {}) });
  const progress = (model: LoadProgress['model'], stage: LoadProgress['stage']) => (done: number, total: number) => post({ type: 'load-progress', stage, model, done, total });
  const quantization = (model: LoadProgress['model']) => options.quantization
    ? { quantization: { format: options.quantization, backend }, onQuantizeLayer: progress(model, 'quantizing') }
    : {};
  const loaded = await loadModel(options.model, {
    ...(options.loadFormat ? { loadFormat: options.loadFormat } : {}),
    ...(options.tokenizer ? { tokenizer: options.tokenizer } : {}),
    ...quantization('target'),
    resolveHubId: resolveHubModel,
  });
  const model = parallel.worldSize > 1
    ? (await joinParallel(loaded, backend, parallel, 0, master!, progress('target', 'packing weights'))).model
    : new CausalLM(loaded.config, loaded.weights, backend, prepareWeights(loaded.weights, backend, progress('target', 'packing weights'), true, true));
  // A draft model is read like the target (a preset name needs --load-format dummy on both).
  const draft = options.speculativeModel
    ? await loadModel(options.speculativeModel, {
      ...(options.loadFormat === 'dummy' ? { loadFormat: 'dummy' as const } : {}),
      ...quantization('draft'),
      resolveHubId: resolveHubModel,
    })
    : null;
  const draftModel = draft ? new CausalLM(draft.config, draft.weights, backend, prepareWeights(draft.weights, backend, progress('draft', 'packing weights'), true, true)) : undefined;
  // Each rank's KV cache holds its own KV heads: blocks are counted from this rank's share.
  const core = new EngineCore(model, loaded.tokenizer, resolveEngineConfig(model.config, options, draft?.config), draftModel);
  if (model instanceof LeaderModel) {
    const { numBlocks, blockSize, kvCacheDtype } = core.config;
    model.setup({ numBlocks, blockSize, kvCacheDtype } satisfies FollowerSetup);
  }
  // A lease ending while the engine is idle changes the cache's usage: say so.
  const connector = options.kvTransfer
    ? await KVConnector.create(options.kvTransfer, core, modelFingerprint(loaded.config, loaded.weights), () => post({ type: 'outputs', outputs: [], stats: statsOf(core, connector) }))
    : null;
  const events = options.kvEvents ? await KVEventPublisher.create(options.kvEvents, core.kv.recordEvents(), options.dataParallelRank ?? null) : null;
  const info: EngineInfo = {
    model: loaded.config,
    config: core.config,
    source: loaded.source,
    backend: backend.name,
    tokenizer: loaded.tokenizer?.serialize() ?? null,
    generationDefaults: loaded.generationDefaults,
    pooling: { ...loaded.pooling, ...(options.pooling ? { type: options.pooling } : {}) },
    maxSequenceTokens: core.maxSequenceTokens,
    loadMs: performance.now() - t0,
    kvTransfer: connector ? { role: options.kvTransfer!.role, engineId: connector.engineId, port: connector.port } : null,
    kvEvents: events ? { endpoint: events.endpoint, replayEndpoint: events.replayEndpoint, topic: options.kvEvents!.topic } : null,
  };
  post({ type: 'ready', info });
  return { core, connector, events };
}

function statsOf(core: EngineCore, connector: KVConnector | null): EngineStats {
  return {
    ...core.stats(), ...(connector ? { kvTransfer: connector.stats() } : {}),
    ...(core.kv.pool.events ? { cachedBlocks: core.kv.pool.numCached } : {}),
  };
}

/** `later`: runs a function at the top of the step loop (waking it), for admissions that wait. */
function admit(core: EngineCore, m: AddRequestMessage, connector: KVConnector | null, later: (f: () => void) => void): void {
  try {
    let promptIds: number[];
    if (typeof m.prompt === 'string') {
      if (!core.tokenizer) throw new UsageError('this model has no tokenizer: give the prompt as token ids');
      promptIds = core.tokenizer.encode(m.prompt);
    } else promptIds = m.prompt;
    // A decode from a remote prefill is admitted once its blocks are in.
    const loaded = (aborted: boolean) => later(() => {
      admitIds(core, m, promptIds);
      if (aborted) core.abort(m.id);
    });
    const failed = (e: Error) => {
      post({ type: 'rejected', id: m.id, error: serializeError(e) });
      post({ type: 'outputs', outputs: [], stats: statsOf(core, connector) });
    };
    if (connector?.add(m, promptIds, loaded, failed)) return;
    admitIds(core, m, promptIds);
  } catch (e) {
    post({ type: 'rejected', id: m.id, error: serializeError(e) });
  }
}

function admitIds(core: EngineCore, m: AddRequestMessage, promptIds: number[]): void {
  try {
    core.addRequest({
      id: m.id, promptIds, params: m.params, priority: m.priority, sampleIndex: m.sampleIndex, arrival: m.arrival, ...(m.pooling ? { pooling: m.pooling } : {}),
    });
    post({ type: 'admitted', id: m.id, promptTokenIds: promptIds });
  } catch (e) {
    post({ type: 'rejected', id: m.id, error: serializeError(e) });
  }
}

/**
 * Requests whose grammar is compiling, in the grammar thread while steps go on: they come back through
 * the inbox once it is ready (an abort meanwhile is applied as soon as they are admitted).
 */
class GrammarWaits {
  private readonly waiting = new Map<string, { aborted: boolean }>();

  constructor(private readonly core: EngineCore, private readonly requeue: (m: ToWorker) => void) {}

  /** True when `m` must wait for its grammar (it will be requeued, or rejected if it does not compile). */
  hold(m: AddRequestMessage): boolean {
    const spec = m.params.structuredOutputs;
    if (!spec || this.waiting.has(m.id)) return false;
    const w = { aborted: false };
    this.waiting.set(m.id, w);
    this.core.constrained.compile(spec).then(() => this.requeue(m), (e: Error) => {
      this.waiting.delete(m.id);
      post({ type: 'rejected', id: m.id, error: serializeError(e) });
    });
    return true;
  }

  /** After admitting a requeued request: whether it was aborted while it waited. */
  admitted(id: string): boolean {
    const w = this.waiting.get(id);
    this.waiting.delete(id);
    return w?.aborted === true;
  }

  /** An abort for a waiting request; false if it is not waiting. */
  abort(id: string): boolean {
    const w = this.waiting.get(id);
    if (w) w.aborted = true;
    return w !== undefined;
  }
}

async function serve({ core, connector, events }: Started): Promise<void> {
  const leader = core.model instanceof LeaderModel ? core.model : null;
  try {
    await serveSteps(core, leader, connector, events);
  } catch (e) {
    if (!(e instanceof WorldFailedError)) throw e;
    post({ type: 'world-failed', ids: core.abortAll(), error: serializeError(e) });
    return;
  }
  leader?.shutdown();
  connector?.close();
  events?.close();
}

async function serveSteps(core: EngineCore, leader: LeaderModel | null, connector: KVConnector | null, events: KVEventPublisher | null): Promise<void> {
  const inbox: ToWorker[] = [];
  const deferred: (() => void)[] = [];
  let wake: (() => void) | null = null;
  const nudge = () => {
    wake?.();
    wake = null;
  };
  const enqueue = (m: ToWorker) => {
    inbox.push(m);
    nudge();
  };
  port.on('message', enqueue);
  const later = (f: () => void) => {
    deferred.push(f);
    nudge();
  };
  const grammars = new GrammarWaits(core, enqueue);
  for (;;) {
    for (const f of deferred.splice(0)) f();
    while (inbox.length > 0) {
      const m = inbox.shift()!;
      if (m.type === 'shutdown') return;
      if (m.type === 'add') {
        if (grammars.hold(m)) continue;
        admit(core, m, connector, later);
        if (grammars.admitted(m.id)) core.abort(m.id);
      } else if (m.type === 'kv-release') connector?.release(m.remote);
      else for (const id of m.ids) if (!grammars.abort(id) && !connector?.abort(id)) core.abort(id);
    }
    if (!core.hasWork && deferred.length === 0) {
      events?.flush();
      const beat = leader ? setTimeout(() => wake?.(), leader.heartbeatMs) : null;
      await new Promise<void>((resolve) => (wake = resolve));
      if (beat) clearTimeout(beat);
      if (leader && inbox.length === 0) leader.heartbeat();
      continue;
    }
    try {
      const outputs = core.step();
      connector?.requestFinished(outputs);
      if (outputs.length > 0) post({ type: 'outputs', outputs, stats: statsOf(core, connector) });
    } catch (e) {
      if (e instanceof WorldFailedError) throw e;
      const ids = core.abortAll();
      connector?.forget(ids);
      post({ type: 'step-failed', ids, error: serializeError(e) });
    }
    events?.flush();
    // Let new requests and aborts arrive between steps.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

try {
  await serve(await start());
} catch (e) {
  post({ type: 'load-failed', error: serializeError(e) });
}
port.close();
