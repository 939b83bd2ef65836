// Rank 1 of the point-to-point test (test/distributed/point-to-point.test.ts), run in a worker thread:
// joins, receives the messages rank 0 sends, in order, and answers with what it received.

import { ProcessGroup } from '../../src/distributed/process-group.js';
import { TSLLM_VERSION } from '../../src/util/version.js';

export interface PeerMessage {
  floats: number;
  tag: number;
}

export const P2P_MODEL = 'point-to-point-test';

/** Message i's contents: different in every message and every element. */
export function messageData(i: number, floats: number): Float32Array {
  return Float32Array.from({ length: floats }, (_, j) => i * 1000 + (j % 997));
}

/** Receives `messages` from rank 0, checks each, then sends rank 0 the number that matched. */
export async function runPeer(master: string, messages: PeerMessage[], mismatchTag: number): Promise<{ matched: number; mismatch: string }> {
  const group = await ProcessGroup.join({ rank: 1, worldSize: 2, master, bindHost: '127.0.0.1', timeoutMs: 20_000, model: P2P_MODEL, version: TSLLM_VERSION });
  try {
    let matched = 0;
    messages.forEach((m, i) => {
      const x = new Float32Array(m.floats);
      group.comm.recv(x, 0, m.tag);
      const want = messageData(i, m.floats);
      if (x.every((v, j) => v === want[j])) matched++;
    });
    group.comm.send(Int32Array.of(matched), 0, 1);
    let mismatch = '';
    try {
      group.comm.recv(new Float32Array(4), 0, mismatchTag);
    } catch (e) {
      mismatch = (e as Error).message;
    }
    return { matched, mismatch };
  } finally {
    group.close();
  }
}
