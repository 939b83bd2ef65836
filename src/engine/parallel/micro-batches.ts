// A step's flat batch cut into micro-batches for the pipeline: whole sequences, consecutive, about
// equal in rows. While stage 1 runs the first micro-batch, stage 0 runs the second, so with M stages
// up to M micro-batches are in flight and no stage waits for the whole batch to cross the others.
// Every rank cuts the same plan the same way, so the cut itself never travels.

import type { ForwardBatch } from '../../model/architectures/decoder.js';

export interface MicroBatch {
  batch: ForwardBatch;
  /** Positions in the whole batch's logitsRows (and hiddenRows) of this micro-batch's rows, in order. */
  logitsIndex: Int32Array;
  hiddenIndex: Int32Array;
}

/** At most `parts` micro-batches; one when the batch has a single sequence. */
export function splitMicroBatches(b: ForwardBatch, parts: number): MicroBatch[] {
  const rows = b.tokenIds.length;
  const n = Math.max(1, Math.min(parts, b.seqs.length));
  // Cut before the sequence that starts at or past each k/n of the rows (sequences are laid out in order).
  const cuts = [0];
  for (let s = 1; s < b.seqs.length && cuts.length < n; s++) {
    if (b.seqs[s]!.queryStart * n >= cuts.length * rows) cuts.push(s);
  }
  cuts.push(b.seqs.length);
  const out: MicroBatch[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) out.push(slice(b, cuts[i]!, cuts[i + 1]!));
  return out;
}

/** Sequences [s0, s1) of `b`, rows renumbered from 0. */
function slice(b: ForwardBatch, s0: number, s1: number): MicroBatch {
  const seqs = b.seqs.slice(s0, s1);
  const r0 = seqs[0]!.queryStart;
  const last = seqs[seqs.length - 1]!;
  const r1 = last.queryStart + last.queryLen;
  const pick = (all: Int32Array | undefined) => {
    const index: number[] = [];
    const local: number[] = [];
    all?.forEach((r, i) => {
      if (r >= r0 && r < r1) {
        index.push(i);
        local.push(r - r0);
      }
    });
    return { index: Int32Array.from(index), local: Int32Array.from(local) };
  };
  const logits = pick(b.logitsRows);
  const hidden = pick(b.hiddenRows);
  return {
    batch: {
      tokenIds: b.tokenIds.subarray(r0, r1),
      positions: b.positions.subarray(r0, r1),
      slotMapping: b.slotMapping.subarray(r0, r1),
      seqs: seqs.map((s) => ({ ...s, queryStart: s.queryStart - r0 })),
      logitsRows: logits.local,
      ...(b.hiddenRows ? { hiddenRows: hidden.local } : {}),
      ...(b.promptLens ? { promptLens: b.promptLens.subarray(s0, s1) } : {}),
    },
    logitsIndex: logits.index,
    hiddenIndex: hidden.index,
  };
}
