// The decode side's end of a transfer: one ZeroMQ DEALER per prefill server, pulls matched to their
// answers by lease id, each given up after a timeout (a prefill side that died answers nothing).

import { Dealer } from 'zeromq';
import type { BlockGeometry } from './kv-block-copy.js';
import type { RemoteBlocks } from './kv-transfer-config.js';
import { BULK_SOCKET_OPTIONS, SerialSender } from './serial-sender.js';

interface Pending {
  resolve: (frames: Buffer[]) => void;
  reject: (e: Error) => void;
}

class Connection {
  readonly socket = new Dealer(BULK_SOCKET_OPTIONS);
  readonly sender = new SerialSender(this.socket);
  readonly pending = new Map<string, Pending>();

  constructor(endpoint: string) {
    this.socket.connect(endpoint);
    void this.receive();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [lease, header, ...frames] of this.socket) {
        const p = this.pending.get(lease?.toString() ?? '');
        if (!p) continue; // Answered after its timeout.
        this.pending.delete(lease!.toString());
        let h: { ok?: boolean; error?: string };
        try {
          h = JSON.parse(header?.toString() ?? '') as typeof h;
        } catch {
          h = { ok: false, error: 'the answer is not JSON' };
        }
        if (h.ok) p.resolve(frames);
        else p.reject(new Error(h.error ?? 'refused'));
      }
    } catch {
      // Closed.
    }
  }
}

export class KVBlockClient {
  private readonly connections = new Map<string, Connection>();

  constructor(private readonly timeoutMs: number) {}

  /** The blocks at `indexes` of the remote prompt, one frame per layer pool; rejects on refusal or timeout. */
  pull(remote: RemoteBlocks, indexes: readonly number[], geometry: BlockGeometry): Promise<Buffer[]> {
    const c = this.connection(remote);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        c.pending.delete(remote.leaseId);
        reject(new Error(`no answer from the prefill server ${remote.host}:${remote.port} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      c.pending.set(remote.leaseId, {
        resolve: (f) => (clearTimeout(timer), resolve(f)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      void c.sender.send(['pull', remote.leaseId, JSON.stringify({ blocks: indexes, geometry })]);
    });
  }

  /** Tells the prefill side it may free the lease. */
  done(remote: RemoteBlocks): void {
    void this.connection(remote).sender.send(['done', remote.leaseId]);
  }

  close(): void {
    for (const c of this.connections.values()) {
      for (const p of c.pending.values()) p.reject(new Error('the engine is closing'));
      c.socket.close();
    }
    this.connections.clear();
  }

  private connection(r: RemoteBlocks): Connection {
    const endpoint = `tcp://${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`;
    let c = this.connections.get(endpoint);
    if (!c) this.connections.set(endpoint, (c = new Connection(endpoint)));
    return c;
  }
}
