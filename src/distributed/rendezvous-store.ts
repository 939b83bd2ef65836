// The master's rendezvous store: the key-value exchange Gloo's full-mesh connect needs (each rank
// publishes its listening address and reads the others'), served on rank 0 over TCP in the format
// native/src/comm/store-client.cc speaks. Before a rank may use it, its hello (rank, world size,
// model fingerprint, tsllm version) is checked against the master's, so a rank that would compute
// something else is refused with the reason instead of joining.

import net from 'node:net';

export interface RankHello {
  rank: number;
  worldSize: number;
  /** Hash of the model's config and tensor list (see modelFingerprint). */
  model: string;
  version: string;
  /** How the world is split (e.g. "tensor-parallel 2 x pipeline-parallel 2"): every rank must agree. */
  layout?: string;
  /** A subgroup's connect (one pipeline stage's tensor-parallel ranks), by a rank that joined the world already. */
  group?: string;
}

type Reply = (status: number, payload: Buffer) => void;

export class RendezvousStore {
  private readonly server: net.Server;
  private readonly values = new Map<string, Buffer>();
  private readonly waiting = new Map<string, Reply[]>();
  private readonly joined = new Set<number>();
  private readonly sockets = new Set<net.Socket>();
  /** The model every rank must run: rank 0's, learned from its hello; later ranks wait for it. */
  private model: string | null = null;
  private readonly early: { hello: RankHello; answer: (why: string | null) => void }[] = [];

  private constructor(private readonly expected: Omit<RankHello, 'rank' | 'model' | 'group'>) {
    this.server = net.createServer((s) => this.serve(s));
  }

  /** Listens on host:port (port 0 picks a free one). */
  static async listen(expected: Omit<RankHello, 'rank' | 'model' | 'group'>, host: string, port: number): Promise<RendezvousStore> {
    const store = new RendezvousStore(expected);
    await new Promise<void>((resolve, reject) => {
      store.server.once('error', reject);
      store.server.listen(port, host, () => resolve());
    });
    return store;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }

  /** Why this hello may not join, or null. */
  refusal(h: RankHello): string | null {
    const e = this.expected;
    if (h.worldSize !== e.worldSize) return `rank ${h.rank} was started with world size ${h.worldSize}, the master has ${e.worldSize}`;
    if (!Number.isInteger(h.rank) || h.rank < 1 || h.rank >= e.worldSize) return `rank ${h.rank} is outside 1..${e.worldSize - 1} (rank 0 is the master)`;
    if (this.joined.has(h.rank)) return `rank ${h.rank} has joined already`;
    if (h.version !== e.version) return `rank ${h.rank} runs tsllm ${h.version}, the master ${e.version}`;
    if (e.layout !== undefined && h.layout !== e.layout) return `rank ${h.rank} was started as ${h.layout ?? 'an unknown layout'}, the master as ${e.layout}`;
    if (h.model !== this.model) return `rank ${h.rank} loaded a different model (fingerprint ${h.model.slice(0, 12)}, the master's ${this.model?.slice(0, 12)})`;
    return null;
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    let admitted = false;
    const reply: Reply = (status, payload) => {
      const head = Buffer.alloc(5);
      head[0] = status;
      head.writeUInt32LE(payload.length, 1);
      if (!socket.destroyed) socket.write(Buffer.concat([head, payload]));
    };
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (pending.length < 5) return;
        const keyLen = pending.readUInt32LE(1);
        if (pending.length < 9 + keyLen) return;
        const valLen = pending.readUInt32LE(5 + keyLen);
        const end = 9 + keyLen + valLen;
        if (pending.length < end) return;
        const op = String.fromCharCode(pending[0]!);
        const key = pending.subarray(5, 5 + keyLen).toString('utf8');
        const value = Buffer.from(pending.subarray(9 + keyLen, end));
        pending = pending.subarray(end);
        if (op === 'H') {
          this.hello(value, (why) => {
            if (why) {
              reply(1, Buffer.from(why));
              socket.end();
            } else {
              admitted = true;
              reply(0, Buffer.alloc(0));
            }
          });
        } else if (!admitted) {
          reply(1, Buffer.from('rendezvous store: hello first'));
        } else if (op === 'S') {
          this.set(key, value);
          reply(0, Buffer.alloc(0));
        } else if (op === 'G') {
          this.get(key, reply);
        } else {
          reply(1, Buffer.from(`rendezvous store: unknown op ${op}`));
        }
      }
    });
  }

  private hello(raw: Buffer, answer: (why: string | null) => void): void {
    let h: RankHello;
    try {
      h = JSON.parse(raw.toString('utf8')) as RankHello;
    } catch {
      answer('rendezvous store: a malformed hello');
      return;
    }
    if (h.group !== undefined) {
      const member = h.rank === 0 || this.joined.has(h.rank);
      answer(member && h.model === this.model && h.version === this.expected.version ? null : `rank ${h.rank} asked to join group ${h.group} without being part of the job`);
      return;
    }
    // The master itself joins as rank 0 through the same store; the ranks that came first wait for it.
    if (h.rank === 0 && this.model === null) {
      this.model = h.model;
      this.joined.add(0);
      answer(null);
      for (const e of this.early.splice(0)) this.hello(Buffer.from(JSON.stringify(e.hello)), e.answer);
      return;
    }
    if (this.model === null) {
      this.early.push({ hello: h, answer });
      return;
    }
    const why = this.refusal(h);
    if (!why) this.joined.add(h.rank);
    answer(why);
  }

  private set(key: string, value: Buffer): void {
    this.values.set(key, value);
    for (const r of this.waiting.get(key) ?? []) r(0, value);
    this.waiting.delete(key);
  }

  private get(key: string, reply: Reply): void {
    const v = this.values.get(key);
    if (v) reply(0, v);
    else this.waiting.set(key, [...(this.waiting.get(key) ?? []), reply]);
  }
}
