// The engine's side of prefill/decode disaggregation, in the shape of vLLM's KVConnectorBase_V1.
// Scheduler side: how many of a prompt's tokens the prefill side holds beyond the local prefix cache,
// and which blocks to load (getNumNewMatchedTokens). Worker side: load them, layer by layer, into
// blocks held for the request (startLoadKv); keep a finished prefill's blocks under a lease
// (requestFinished); release what is done with (getFinished). Pulled blocks are registered in the
// prefix cache, so the request is then admitted like any other and finds them there: the transfer
// is a remote prefix-cache hit, and a local hit is simply not pulled.

import { randomUUID } from 'node:crypto';
import { UsageError } from '../../util/errors.js';
import type { AddRequestMessage } from '../engine-protocol.js';
import type { EngineCore } from '../engine-core.js';
import { extendBlockHashes } from '../kv-cache/block-hash.js';
import type { KVBlock } from '../kv-cache/block-pool.js';
import type { RequestOutput } from '../output/output-processor.js';
import { KVBlockClient } from './kv-block-client.js';
import { blockGeometry, framesProblem, writeBlocks } from './kv-block-copy.js';
import { KVBlockServer } from './kv-block-server.js';
import { isConsumer, isProducer, remoteBlocksParams, type KVTransferConfig, type RemoteBlocks } from './kv-transfer-config.js';

/** Counters since start-up, for /load and the metrics. */
export interface KVTransferStats {
  pulls: number;
  pullFailures: number;
  blocksPulled: number;
  /** Blocks the decode side already had in its prefix cache, so did not pull. */
  blocksSkipped: number;
  bytesPulled: number;
  pullSeconds: number;
  leases: number;
}

interface LoadPlan {
  hashes: string[];
  /** Leading usable blocks found locally, then the remote indexes to pull. */
  local: KVBlock[];
  indexes: number[];
}

export class KVConnector {
  readonly engineId = randomUUID();
  private readonly server: KVBlockServer | null;
  private readonly client: KVBlockClient | null;
  /** Request id -> lease id, for prefills whose decode is remote. */
  private readonly producing = new Map<string, string>();
  /** Requests waiting for their pull: whether they were aborted meanwhile. */
  private readonly loading = new Map<string, { aborted: boolean }>();
  private readonly stats_: Omit<KVTransferStats, 'leases'> = { pulls: 0, pullFailures: 0, blocksPulled: 0, blocksSkipped: 0, bytesPulled: 0, pullSeconds: 0 };

  private constructor(private readonly cfg: KVTransferConfig, private readonly core: EngineCore, private readonly fingerprint: string, onRelease: () => void) {
    if (!core.config.enablePrefixCaching && isConsumer(cfg)) throw new UsageError('a decode server (--kv-transfer-role decode|both) needs prefix caching: pulled blocks arrive through it');
    this.server = isProducer(cfg) ? new KVBlockServer(core.kv, core.runner.cache, cfg.leaseMs, onRelease) : null;
    this.client = isConsumer(cfg) ? new KVBlockClient(cfg.pullTimeoutMs) : null;
  }

  static async create(cfg: KVTransferConfig, core: EngineCore, fingerprint: string, onRelease: () => void): Promise<KVConnector> {
    const c = new KVConnector(cfg, core, fingerprint, onRelease);
    await c.server?.start(cfg.bindHost, cfg.port);
    return c;
  }

  get port(): number | null {
    return this.server?.port ?? null;
  }

  stats(): KVTransferStats {
    return { ...this.stats_, leases: this.server?.numLeases ?? 0 };
  }

  /**
   * An arriving request. Returns true when the connector takes it: `loaded` once its blocks are in
   * (or could not be had: it recomputes), saying whether it was aborted meanwhile, or `reject`; false
   * when it is admitted as usual.
   */
  add(m: AddRequestMessage, promptIds: number[], loaded: (aborted: boolean) => void, reject: (e: Error) => void): boolean {
    const t = m.kvTransfer;
    if (!t) return false;
    if ('doRemoteDecode' in t) {
      if (!this.server) throw new UsageError('kv_transfer_params.do_remote_decode: this server does not prefill for others (--kv-transfer-role prefill or both)');
      const lease = `${this.engineId}/${m.id}`;
      this.producing.set(m.id, lease);
      this.core.kv.leaseWhenFinished(m.id, lease);
      return false;
    }
    if (!this.client) throw new UsageError('kv_transfer_params.do_remote_prefill: this server does not decode for others (--kv-transfer-role decode or both)');
    void this.startLoadKv(m.id, promptIds, t.remote, loaded, reject);
    return true;
  }

  /** An abort for a request still waiting for its blocks: true if it was one (it ends once the pull does). */
  abort(id: string): boolean {
    const w = this.loading.get(id);
    if (w) w.aborted = true;
    return w !== undefined;
  }

  /**
   * After a step: a finished prefill's blocks go under their lease and its output says where; a
   * request that pulled lets go of its blocks once it has run (the scheduler holds them by then).
   */
  requestFinished(outputs: RequestOutput[]): void {
    for (const o of outputs) {
      if (this.core.kv.releaseHold(pullKey(o.requestId))) continue;
      const lease = this.producing.get(o.requestId);
      if (lease === undefined || !o.finishReason) continue;
      this.producing.delete(o.requestId);
      if (o.finishReason === 'abort') continue;
      const numBlocks = this.server!.leased(lease);
      const { blockSize, kvCacheDtype } = this.core.config;
      o.kvTransferParams = remoteBlocksParams({
        engineId: this.engineId, host: this.cfg.advertiseHost, port: this.server!.port, leaseId: lease, numBlocks, blockSize, kvCacheDtype, modelFingerprint: this.fingerprint,
      });
    }
  }

  /** A request holding a remote lease was refused before admission: the prefill side may free it. */
  release(remote: RemoteBlocks): void {
    this.client?.done(remote);
  }

  /** Requests ended without outputs (a failed step): nothing of theirs stays held. */
  forget(ids: readonly string[]): void {
    for (const id of ids) {
      this.core.kv.releaseHold(pullKey(id));
      this.producing.delete(id);
    }
  }

  close(): void {
    this.server?.close();
    this.client?.close();
  }

  /** Scheduler side: the prompt's usable blocks found locally, and the remote ones to pull after them. */
  getNumNewMatchedTokens(promptIds: readonly number[], remote: RemoteBlocks): LoadPlan {
    const { blockSize, kvCacheDtype } = this.core.config;
    if (remote.modelFingerprint !== this.fingerprint) throw new Error('the prefill server runs another model (or another quantization of it)');
    if (remote.blockSize !== blockSize || remote.kvCacheDtype !== kvCacheDtype) {
      throw new Error(`the prefill server's KV cache is ${remote.kvCacheDtype} in blocks of ${remote.blockSize}, this one's ${kvCacheDtype} in blocks of ${blockSize}`);
    }
    const hashes: string[] = [];
    extendBlockHashes(hashes, promptIds, blockSize, this.core.model.prefixCacheSalt(promptIds.length));
    const usable = Math.min(Math.floor((promptIds.length - 1) / blockSize), remote.numBlocks);
    const local: KVBlock[] = [];
    for (let b = this.core.kv.pool.lookup(hashes[0] ?? ''); b && local.length < usable; b = this.core.kv.pool.lookup(hashes[local.length] ?? '')) local.push(b);
    return { hashes, local, indexes: Array.from({ length: usable - local.length }, (_, i) => local.length + i) };
  }

  /** Worker side: pull the planned blocks into held ones, register them, then admit (or fail) the request. */
  private async startLoadKv(id: string, promptIds: number[], remote: RemoteBlocks, loaded: (aborted: boolean) => void, reject: (e: Error) => void): Promise<void> {
    const state = { aborted: false };
    this.loading.set(id, state);
    const key = pullKey(id);
    let failure: Error | null = null;
    try {
      const plan = this.getNumNewMatchedTokens(promptIds, remote);
      this.stats_.blocksSkipped += plan.local.length;
      if (plan.indexes.length > 0) {
        const fresh = this.core.kv.pool.allocate(plan.indexes.length);
        if (!fresh) throw new Error(`no room for ${plan.indexes.length} blocks`);
        // The local hits are held too, so nothing evicts them while the pull is out.
        this.core.kv.pool.touch(plan.local);
        this.core.kv.hold(key, [...plan.local, ...fresh], false);
        const t0 = performance.now();
        const frames = await this.client!.pull(remote, plan.indexes, blockGeometry(this.core.runner.cache));
        const problem = framesProblem(this.core.runner.cache, fresh.length, frames);
        if (problem) throw new Error(`the prefill server's answer does not fit: ${problem}`);
        writeBlocks(this.core.runner.cache, fresh.map((b) => b.id), frames);
        // The pulled blocks are the prompt's blocks local.length.. in order.
        this.core.kv.registerBlocks(fresh, plan.hashes, plan.indexes[0]!, plan.indexes[0]! + fresh.length, promptIds);
        this.stats_.pulls++;
        this.stats_.blocksPulled += fresh.length;
        this.stats_.bytesPulled += frames.reduce((s, f) => s + f.byteLength, 0);
        this.stats_.pullSeconds += (performance.now() - t0) / 1000;
      }
    } catch (e) {
      failure = e as Error;
      this.core.kv.releaseHold(key);
      this.stats_.pullFailures++;
    } finally {
      this.loading.delete(id);
    }
    this.client!.done(remote);
    if (failure && this.cfg.loadFailurePolicy === 'fail' && !state.aborted) {
      reject(Object.assign(new Error(`the prompt's KV could not be loaded from the prefill server (kv_load_failure_policy fail): ${failure.message}`), { name: 'KVTransferError' }));
      return;
    }
    loaded(state.aborted);
  }
}

const pullKey = (id: string) => `pull:${id}`;
