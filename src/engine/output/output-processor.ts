// From the scheduler's per-request updates to what the caller sees: detokenized text (incremental,
// byte-exact UTF-8), stop strings, and one RequestOutput per request per step. It runs in the engine
// core's thread, so a stop string ends its request in the step that produced it; the core then
// finishes the request in the scheduler.

import { IncrementalDetokenizer, type Tokenizer } from '../../model/tokenizer/tokenizer.js';
import type { Request, RequestFinishReason, RequestTimeline } from '../request.js';
import type { TokenLogprobs } from '../sampling/sampler.js';
import type { RequestUpdate } from '../scheduler/scheduler.js';
import { StopStringText } from './stop-strings.js';

/** What one step changed for one request. */
export interface RequestOutput {
  requestId: string;
  /** Tokens generated in this step (none for an abort). */
  tokenIds: number[];
  /** Text that became final in this step. */
  text: string;
  logprobs?: TokenLogprobs[];
  /** On a request's first output, when it asked for them: one per prompt token after the first. */
  promptLogprobs?: TokenLogprobs[];
  finishReason: RequestFinishReason | null;
  stopReason: string | number | null;
  numPromptTokens: number;
  numCachedTokens: number;
  /** An embedding request's pooled vector (its only output). */
  embedding?: Float32Array;
  /** Present once the request has finished. */
  timeline?: RequestTimeline;
  numPreemptions?: number;
  /** A prefill for a remote decode, on its last output: where its KV blocks wait (vLLM's kv_transfer_params). */
  kvTransferParams?: Record<string, unknown>;
}

interface TextState {
  detokenizer: IncrementalDetokenizer | null;
  text: StopStringText;
}

export interface StoppedByString {
  req: Request;
  stop: string;
}

export class OutputProcessor {
  private readonly states = new Map<string, TextState>();

  constructor(private readonly tokenizer: Tokenizer | null) {}

  add(req: Request): void {
    const detokenizer = this.tokenizer ? new IncrementalDetokenizer(this.tokenizer, { skipSpecialTokens: req.params.skipSpecialTokens }) : null;
    this.states.set(req.id, { detokenizer, text: new StopStringText(req.params) });
  }

  /**
   * The outputs of one step. A request whose text reached a stop string keeps the tokens through the
   * one that completed it and is listed in `stopped`, for the caller to finish.
   */
  process(updates: readonly RequestUpdate[]): { outputs: RequestOutput[]; stopped: StoppedByString[] } {
    const outputs: RequestOutput[] = [];
    const stopped: StoppedByString[] = [];
    for (const u of updates) {
      const { req, stop } = u;
      const st = this.states.get(req.id)!;
      const before = req.outputIds.length - u.tokens.length;
      let text = '';
      let stopString: string | null = null;
      let kept = 0;
      for (const token of u.tokens) {
        kept++;
        const newText = st.detokenizer ? st.detokenizer.push(token) : '';
        const last = kept === u.tokens.length;
        if (last && stop?.eos) break;
        if (last && stop?.stopReason != null) {
          if (!(this.tokenizer?.isSpecial(token) ?? false)) st.text.append(newText, 0);
          break;
        }
        stopString = st.text.append(newText, before + kept);
        if (stopString !== null) break;
        if (!last) text += st.text.take(false);
      }
      if (stop || stopString !== null) {
        // The bytes of an unfinished character end the text as U+FFFD, unless a stop string cut it.
        if (stopString === null && st.detokenizer) st.text.append(st.detokenizer.flush(), 0);
        text += st.text.take(true);
      } else {
        text += st.text.take(false);
      }
      if (stopString !== null) {
        req.truncateOutput(before + kept);
        stopped.push({ req, stop: stopString });
      }
      const logprobs = u.logprobs?.slice(0, kept);
      outputs.push(this.output(req, u.tokens.slice(0, kept), text, logprobs && logprobs.length > 0 ? logprobs : undefined, stopString));
    }
    return { outputs, stopped };
  }

  /** The output of an embedding request, finished. */
  pooled(req: Request, embedding: Float32Array): RequestOutput {
    return { ...this.output(req, [], '', undefined, null), embedding };
  }

  /** The output of a request ended without new tokens (an abort). */
  aborted(req: Request): RequestOutput {
    return this.output(req, [], '', undefined, null);
  }

  private output(req: Request, tokenIds: number[], text: string, logprobs: TokenLogprobs[] | undefined, stopString: string | null): RequestOutput {
    const finished = req.isFinished || stopString !== null;
    if (finished) this.states.delete(req.id);
    const promptLogprobs = req.promptLogprobs;
    req.promptLogprobs = null;
    return {
      requestId: req.id,
      tokenIds,
      text,
      ...(logprobs ? { logprobs } : {}),
      ...(promptLogprobs ? { promptLogprobs } : {}),
      finishReason: stopString !== null ? 'stop' : req.finishReason,
      stopReason: stopString ?? req.stopReason,
      numPromptTokens: req.numPromptTokens,
      numCachedTokens: req.numCachedTokens,
      ...(finished ? { timeline: req.timeline, numPreemptions: req.numPreemptions } : {}),
    };
  }
}
