// What rank 0 tells the other ranks before each forward pass: the flat batch the scheduler and the
// batch builder made (token ids, positions, cache slots, each sequence's block table, which rows need
// logits or hidden states). Sampling stays on rank 0, which alone receives the logits it needs. The
// plan travels as one Int32Array: a header of counts, then the arrays in a fixed order.

import type { AttentionSeq } from '../../kernels/backend.js';
import type { ForwardBatch } from '../../model/architectures/decoder.js';

export function encodeStep(b: ForwardBatch): Int32Array {
  const rows = b.tokenIds.length;
  const tables = b.seqs.reduce((n, s) => n + s.blockTable.length, 0);
  const hidden = b.hiddenRows ?? new Int32Array(0);
  const promptLens = b.promptLens ?? new Int32Array(0);
  const out = new Int32Array(5 + 3 * rows + 4 * b.seqs.length + tables + b.logitsRows.length + hidden.length + promptLens.length);
  out.set([rows, b.seqs.length, b.logitsRows.length, hidden.length, b.promptLens ? 1 : 0]);
  let at = 5;
  const put = (a: ArrayLike<number>) => {
    out.set(a, at);
    at += a.length;
  };
  put(b.tokenIds);
  put(b.positions);
  put(b.slotMapping);
  for (const s of b.seqs) {
    put([s.queryStart, s.queryLen, s.contextLen, s.blockTable.length]);
    put(s.blockTable);
  }
  put(b.logitsRows);
  put(hidden);
  put(promptLens);
  return out;
}

export function decodeStep(p: Int32Array): ForwardBatch {
  const [rows, numSeqs, numLogits, numHidden, hasPromptLens] = p;
  let at = 5;
  const take = (n: number) => p.slice(at, (at += n));
  const tokenIds = take(rows!);
  const positions = take(rows!);
  const slotMapping = take(rows!);
  const seqs: AttentionSeq[] = [];
  for (let i = 0; i < numSeqs!; i++) {
    const [queryStart, queryLen, contextLen, tableLen] = take(4);
    seqs.push({ queryStart: queryStart!, queryLen: queryLen!, contextLen: contextLen!, blockTable: take(tableLen!) });
  }
  const logitsRows = take(numLogits!);
  const hiddenRows = take(numHidden!);
  return {
    tokenIds, positions, slotMapping, seqs, logitsRows,
    ...(numHidden! > 0 ? { hiddenRows } : {}),
    ...(hasPromptLens ? { promptLens: take(numSeqs!) } : {}),
  };
}
