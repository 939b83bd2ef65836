// The prefill side's block server (ZeroMQ ROUTER). A prompt prefilled for a remote decode keeps its
// usable blocks under a lease; the decode side asks for the blocks it lacks by their index in the
// prompt and gets one raw frame per layer pool, then says "done" and the lease ends. A lease also ends
// when it expires: a decode side that died never leaks the prefill side's blocks.
//
// Wire format (frames): pull: ["pull", leaseId, {"blocks": [i...], "geometry": g}] -> [leaseId,
// {"ok": true} | {"ok": false, "error": "..."}, pool frames...]; done: ["done", leaseId].

import { Router } from 'zeromq';
import type { KVCacheManager } from '../kv-cache/kv-cache-manager.js';
import type { KVCacheStorage } from '../kv-cache/kv-cache-storage.js';
import { blockGeometry, readBlocks, sameGeometry, type BlockGeometry } from './kv-block-copy.js';
import { BULK_SOCKET_OPTIONS, SerialSender } from './serial-sender.js';

export class KVBlockServer {
  private readonly socket = new Router(BULK_SOCKET_OPTIONS);
  private readonly sender = new SerialSender(this.socket);
  private readonly timers = new Map<string, NodeJS.Timeout>();
  port = 0;

  constructor(
    private readonly kv: KVCacheManager,
    private readonly cache: KVCacheStorage,
    private readonly leaseMs: number,
    /** Called after a lease ends (the pool changed while the engine may be idle). */
    private readonly onRelease: () => void,
  ) {}

  async start(bindHost: string, port: number): Promise<void> {
    await this.socket.bind(`tcp://${bindHost.includes(':') ? `[${bindHost}]` : bindHost}:${port}`);
    this.port = Number(/:(\d+)$/.exec(this.socket.lastEndpoint ?? '')?.[1]);
    void this.serve();
  }

  /** Starts the lease clock of blocks now held under `leaseId`; returns how many there are. */
  leased(leaseId: string): number {
    const n = this.kv.heldUnder(leaseId)?.length ?? 0;
    if (n === 0) this.release(leaseId);
    else this.timers.set(leaseId, setTimeout(() => this.release(leaseId), this.leaseMs));
    return n;
  }

  get numLeases(): number {
    return this.timers.size;
  }

  close(): void {
    for (const id of [...this.timers.keys()]) this.release(id);
    this.socket.close();
  }

  private release(leaseId: string): void {
    clearTimeout(this.timers.get(leaseId));
    this.timers.delete(leaseId);
    if (this.kv.releaseHold(leaseId)) this.onRelease();
  }

  private async serve(): Promise<void> {
    try {
      for await (const [peer, verb, lease, body] of this.socket) {
        const leaseId = lease?.toString() ?? '';
        if (verb?.toString() === 'done') this.release(leaseId);
        else if (verb?.toString() === 'pull') this.sender.send([peer!, leaseId, ...this.pull(leaseId, body)]);
      }
    } catch {
      // Closed.
    }
  }

  private pull(leaseId: string, body: Buffer | undefined): (string | Buffer)[] {
    const fail = (error: string) => [JSON.stringify({ ok: false, error })];
    let ask: { blocks: number[]; geometry: BlockGeometry };
    try {
      ask = JSON.parse(body?.toString() ?? '') as typeof ask;
    } catch {
      return fail('the pull request is not JSON');
    }
    const held = this.kv.heldUnder(leaseId);
    if (!held || !this.timers.has(leaseId)) return fail(`no blocks are held under ${leaseId} (the lease expired, or the prefill was aborted)`);
    const mine = blockGeometry(this.cache);
    if (!ask.geometry || !sameGeometry(mine, ask.geometry)) return fail(`KV cache layouts differ: prefill ${JSON.stringify(mine)}, decode ${JSON.stringify(ask.geometry)}`);
    if (!Array.isArray(ask.blocks) || ask.blocks.some((i) => !Number.isInteger(i) || i < 0 || i >= held.length)) return fail(`block indexes must be within 0..${held.length - 1}`);
    return [JSON.stringify({ ok: true }), ...readBlocks(this.cache, ask.blocks.map((i) => held[i]!.id))];
  }
}
