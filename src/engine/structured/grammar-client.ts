// The engine's side of the grammar thread: compiles (once per distinct grammar, asynchronously, so a
// request waits for its grammar without stalling the batch), gives each constrained sequence a slot,
// feeds it the sampled tokens, and hands the sampler the slot's mask, waiting only if the grammar
// thread has not finished it during the forward pass.

import { Worker } from 'node:worker_threads';
import type { Tokenizer } from '../../model/tokenizer/tokenizer.js';
import { UsageError } from '../../util/errors.js';
import type { FromGrammar, GrammarThreadData, ToGrammar } from './grammar-protocol.js';
import { grammarKey, type StructuredOutputs } from './structured-outputs.js';

export class GrammarClient {
  private readonly worker: Worker;
  private readonly masks: Int32Array;
  private readonly epochs: Int32Array;
  private readonly draftMasks: Int32Array;
  private readonly draftCounts: Int32Array;
  /** The epoch each slot's next mask will carry. */
  private readonly expected: Int32Array;
  private readonly free: number[];
  private readonly compiles = new Map<string, { promise: Promise<void>; done: boolean; resolve(): void; reject(e: Error): void }>();
  readonly words: number;
  /** Compiles not yet answered: the thread keeps the process alive only while someone awaits one. */
  private pending = 0;

  /**
   * `draftSlots` x `draftPositions`: room for the masks of speculative drafts, for the slots below
   * `draftSlots` (the first taken, so running requests hold them in practice).
   */
  constructor(tokenizer: Tokenizer, vocabSize: number, stopTokenIds: number[], maxSlots: number, readonly draftSlots = 0, private readonly draftPositions = 0) {
    this.words = Math.ceil(vocabSize / 32);
    const data: GrammarThreadData = {
      ...tokenizer.grammarVocabulary(), vocabSize, stopTokenIds,
      masks: new SharedArrayBuffer(maxSlots * this.words * 4), epochs: new SharedArrayBuffer(maxSlots * 4),
      draftMasks: new SharedArrayBuffer(draftSlots * draftPositions * this.words * 4), draftPositions, draftCounts: new SharedArrayBuffer(maxSlots * 4),
    };
    this.masks = new Int32Array(data.masks);
    this.epochs = new Int32Array(data.epochs);
    this.draftMasks = new Int32Array(data.draftMasks);
    this.draftCounts = new Int32Array(data.draftCounts);
    this.expected = new Int32Array(maxSlots);
    this.free = Array.from({ length: maxSlots }, (_, i) => maxSlots - 1 - i);
    this.worker = new Worker(new URL('./grammar-thread.js', import.meta.url), { workerData: data });
    this.worker.on('message', (m: FromGrammar) => this.receive(m));
    this.worker.unref();
  }

  /** Matchers in use (slots not free). */
  get numOpen(): number {
    return this.expected.length - this.free.length;
  }

  /** Resolves once `spec` is compiled (at once if it was before); rejects with a UsageError saying why it cannot be. */
  compile(spec: StructuredOutputs): Promise<void> {
    const key = grammarKey(spec);
    let c = this.compiles.get(key);
    if (!c) {
      let resolve!: () => void, reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      c = { promise, done: false, resolve, reject };
      this.compiles.set(key, c);
      if (this.pending++ === 0) this.worker.ref();
      this.send({ type: 'compile', key, spec });
    }
    return c.promise;
  }

  isCompiled(spec: StructuredOutputs): boolean {
    return this.compiles.get(grammarKey(spec))?.done === true;
  }

  /** A matcher for a new sequence, at the grammar's start; its slot. */
  open(spec: StructuredOutputs): number {
    const slot = this.free.pop();
    if (slot === undefined) throw new UsageError('too many requests with structured outputs at once; retry later');
    this.send({ type: 'open', slot, key: grammarKey(spec), epoch: ++this.expected[slot]! });
    return slot;
  }

  accept(slot: number, tokens: number[]): void {
    this.send({ type: 'accept', slot, tokens, epoch: ++this.expected[slot]! });
  }

  /** Asks for the masks after each of these drafts; false when the slot has no room for them. */
  drafts(slot: number, tokens: number[]): boolean {
    if (slot >= this.draftSlots || tokens.length > this.draftPositions) return false;
    this.send({ type: 'drafts', slot, tokens, epoch: ++this.expected[slot]! });
    return true;
  }

  release(slot: number): void {
    this.send({ type: 'close', slot });
    this.free.push(slot);
  }

  /**
   * The slot's next-token bitmask (bit t of word t >> 5: token t allowed), once it is written, then the
   * masks after each draft the grammar accepted (when drafts were asked for since the last accept).
   */
  masksOf(slot: number): Int32Array[] {
    const want = this.expected[slot]!;
    for (let seen = Atomics.load(this.epochs, slot); seen !== want; seen = Atomics.load(this.epochs, slot)) {
      Atomics.wait(this.epochs, slot, seen, 1000);
    }
    const out = [this.masks.subarray(slot * this.words, (slot + 1) * this.words)];
    for (let i = 0; i < this.draftCounts[slot]!; i++) {
      const at = (slot * this.draftPositions + i) * this.words;
      out.push(this.draftMasks.subarray(at, at + this.words));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private send(m: ToGrammar): void {
    this.worker.postMessage(m);
  }

  private receive(m: FromGrammar): void {
    const c = this.compiles.get(m.key);
    if (!c) return;
    if (--this.pending === 0) this.worker.unref();
    if (m.type === 'compiled') {
      c.done = true;
      c.resolve();
    } else {
      // Not cached: the same request again gets the same clear error, not a stale promise.
      this.compiles.delete(m.key);
      c.reject(new UsageError(`the structured output cannot be compiled: ${m.message}`));
    }
  }
}
