// The engine core's view of structured outputs: each constrained request's matcher, opened on
// admission, asked for the mask before sampling, advanced by the tokens sampled, and released when the
// request ends. The grammar thread starts with the first constrained request.

import type { Tokenizer } from '../../model/tokenizer/tokenizer.js';
import { UsageError } from '../../util/errors.js';
import type { Request } from '../request.js';
import { GrammarClient } from './grammar-client.js';
import type { StructuredOutputs } from './structured-outputs.js';

/** Grammar slots beyond max_num_seqs: constrained requests waiting or preempted keep their matchers. */
const MAX_WAITING_GRAMMARS = 1024;

export class ConstrainedRequests {
  private client: GrammarClient | null = null;

  constructor(
    private readonly tokenizer: Tokenizer | null,
    private readonly vocabSize: number,
    private readonly eosTokenIds: number[],
    private readonly maxNumSeqs: number,
    /** Speculative decoding's drafts per step (0 = off). */
    private readonly draftPositions = 0,
  ) {}

  /** Requests holding a matcher: waiting, running or preempted, not finished. */
  get numOpen(): number {
    return this.client?.numOpen ?? 0;
  }

  compile(spec: StructuredOutputs): Promise<void> {
    if (!this.tokenizer) return Promise.reject(new UsageError('structured outputs need the model\'s tokenizer'));
    this.client ??= new GrammarClient(this.tokenizer, this.vocabSize, this.eosTokenIds, this.maxNumSeqs + MAX_WAITING_GRAMMARS,
      this.draftPositions > 0 ? this.maxNumSeqs : 0, this.draftPositions);
    return this.client.compile(spec);
  }

  /** Throws unless the request's grammar (if any) is compiled; call before admitting it. */
  check(spec: StructuredOutputs | undefined): void {
    if (spec && !this.client?.isCompiled(spec)) throw new UsageError('the request\'s structured output is not compiled: await compile() first');
  }

  open(req: Request): void {
    const spec = req.params.structuredOutputs;
    if (spec) req.grammarSlot = this.client!.open(spec);
  }

  /**
   * The request's next-token mask, then one for the position after each draft being verified (up to
   * the first draft the grammar refuses); undefined for an unconstrained request.
   */
  allowed(req: Request): Int32Array[] | undefined {
    return req.grammarSlot !== null ? this.client!.masksOf(req.grammarSlot) : undefined;
  }

  /**
   * After drafts are proposed: the grammar thread computes their masks during the next forward pass.
   * A constrained request without room for them loses its drafts.
   */
  drafted(requests: Iterable<Request>): void {
    for (const req of requests) {
      if (req.grammarSlot === null || req.draft.tokenIds.length === 0) continue;
      if (!this.client!.drafts(req.grammarSlot, req.draft.tokenIds)) req.draft.tokenIds = [];
    }
  }

  /** After a step's update: advance the matchers of requests still running, release the others'. */
  advance(results: readonly { req: Request; tokens: number[] }[]): void {
    for (const { req, tokens } of results) {
      if (req.grammarSlot === null) continue;
      if (req.status === 'finished') this.release(req);
      else this.client!.accept(req.grammarSlot, tokens);
    }
  }

  release(req: Request): void {
    if (req.grammarSlot === null) return;
    this.client!.release(req.grammarSlot);
    req.grammarSlot = null;
  }
}
