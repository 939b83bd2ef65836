// The three places a tensor-parallel rank talks to its group during a forward pass: the embedding
// (each rank looks up the tokens of its vocabulary slice, the group sums), after each row-parallel
// projection (o, down: partial sums all-reduced), and the output head (each rank's vocabulary slice
// of the logits, all-gathered). The decoder calls these through this class only, and this class
// reaches the other ranks only through Collectives, so model code never names a transport.

import type { Backend, PreparedWeight } from '../../kernels/backend.js';
import type { WeightTensor } from '../../kernels/tensor.js';
import type { VocabShard } from './tensor-parallel-shard.js';

export interface Collectives {
  /** Sums x across the group, in place. */
  allReduce(x: Float32Array): void;
  /** output = every rank's input in rank order. */
  allGather(input: Float32Array, output: Float32Array): void;
}

export class TensorParallelOps {
  // The head's slices, kept from pass to pass: fresh megabytes each step keep the garbage collector's
  // threads busy, and on a machine with a core per rank that time is taken from a rank.
  private mine = new Float32Array(0);
  private all = new Float32Array(0);

  /** `assemble`: whether this rank uses the logits (the one that samples), or only lends its slice. */
  constructor(
    private readonly comm: Collectives,
    private readonly vocab: VocabShard,
    private readonly size: number,
    private readonly vocabSize: number,
    private readonly assemble = true,
  ) {}

  reduce(x: Float32Array): void {
    this.comm.allReduce(x);
  }

  /** out[rows, dim] = embedding rows of `ids` from the group's vocabulary slices. */
  embed(be: Backend, out: Float32Array, table: WeightTensor, ids: Int32Array): void {
    const { start, end } = this.vocab;
    const dim = table.shape[1]!;
    // Tokens outside this rank's slice look up its row 0 and are zeroed: another rank supplies them.
    const local = ids.map((id) => (id >= start && id < end ? id - start : 0));
    be.embedding(out, table, local);
    ids.forEach((id, r) => {
      if (id < start || id >= end) out.fill(0, r * dim, (r + 1) * dim);
    });
    this.comm.allReduce(out);
  }

  /**
   * logits[n, vocab] of the normed rows `x` [n, hidden] through the vocabulary-split head (empty on
   * a rank that does not assemble them).
   */
  logits(be: Backend, x: Float32Array, head: PreparedWeight, n: number): Float32Array {
    const { chunk } = this.vocab;
    const width = this.vocab.end - this.vocab.start;
    if (this.mine.length < n * chunk) [this.mine, this.all] = [new Float32Array(n * chunk), new Float32Array(this.size * n * chunk)];
    const mine = this.mine.subarray(0, n * chunk);
    if (width === chunk) be.matmul(mine, x, head, n);
    else if (width > 0) {
      // The last rank's slice is short: padded to the common width the all-gather needs.
      const part = new Float32Array(n * width);
      be.matmul(part, x, head, n);
      for (let r = 0; r < n; r++) mine.set(part.subarray(r * width, (r + 1) * width), r * chunk);
    }
    const all = this.all.subarray(0, this.size * n * chunk);
    this.comm.allGather(mine, all);
    if (!this.assemble) return new Float32Array(0);
    const V = this.vocabSize;
    const logits = new Float32Array(n * V);
    for (let p = 0; p < this.size; p++) {
      const from = p * chunk;
      const w = Math.min(chunk, V - from);
      if (w <= 0) continue;
      for (let r = 0; r < n; r++) logits.set(all.subarray((p * n + r) * chunk, (p * n + r) * chunk + w), r * V + from);
    }
    return logits;
  }
}
