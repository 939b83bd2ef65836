// Decides when a sequence is finished and which of its text may be shown yet. Stop strings are
// matched on the decoded text, so one split across tokens is still caught, and the tail that could
// still become a stop string is held back so it is never emitted.

import type { IncrementalDetokenizer, Tokenizer } from '../model/tokenizer/tokenizer.js';
import type { SamplingParams } from './sampling/sampling-params.js';

export type FinishReason = 'stop' | 'length';

export interface StopState {
  finishReason: FinishReason | null;
  /** The stop string or token id that ended generation, if any. */
  stopReason: string | number | null;
}

export class StopChecker {
  private text = '';
  private emitted = 0;
  private readonly holdBack: number;
  private readonly eos: Set<number>;
  private readonly stopIds: Set<number>;
  readonly state: StopState = { finishReason: null, stopReason: null };

  constructor(
    private readonly params: SamplingParams,
    eosTokenIds: readonly number[],
    /** Tokens the sequence may still grow by before the context is full. */
    private readonly room: number,
  ) {
    this.holdBack = params.stop.reduce((m, s) => Math.max(m, s.length - 1), 0);
    this.eos = new Set(params.ignoreEos ? [] : eosTokenIds);
    this.stopIds = new Set(params.stopTokenIds);
  }

  /**
   * Records one generated token and its new text. Returns the text that may be shown now;
   * `state.finishReason` is set once generation must end.
   */
  update(token: number, newText: string, outputCount: number, isSpecial: boolean): string {
    const minReached = outputCount > this.params.minTokens;
    if (this.eos.has(token) && minReached) return this.finish('stop', token);
    if (this.stopIds.has(token) && minReached) {
      if (!isSpecial) this.text += newText;
      return this.finish('stop', token);
    }
    this.text += newText;
    if (minReached && this.params.stop.length > 0) {
      // Only the new text, plus what a stop string could straddle, needs searching.
      const from = Math.max(0, this.text.length - newText.length - this.holdBack);
      let cut = -1;
      let which = '';
      for (const s of this.params.stop) {
        const i = this.text.indexOf(s, from);
        if (i >= 0 && (cut < 0 || i < cut)) {
          cut = i;
          which = s;
        }
      }
      if (cut >= 0) {
        this.text = this.text.slice(0, cut);
        return this.finish('stop', which);
      }
    }
    if (outputCount >= this.params.maxTokens || outputCount >= this.room) return this.finish('length', null);
    const visible = Math.max(this.emitted, this.text.length - this.holdBack);
    return this.take(visible);
  }

  /** Adds text after the sequence finished (the detokenizer's last bytes) and returns it. */
  appendTail(tail: string): string {
    this.text += tail;
    return this.take(this.text.length);
  }

  /** The whole output text so far (or final). */
  get outputText(): string {
    return this.text;
  }

  private finish(reason: FinishReason, stopReason: string | number | null): string {
    this.state.finishReason = reason;
    this.state.stopReason = stopReason;
    return this.take(this.text.length);
  }

  private take(upTo: number): string {
    // Never split a surrogate pair when holding text back.
    let end = Math.min(upTo, this.text.length);
    const code = this.text.charCodeAt(end - 1);
    if (end < this.text.length && code >= 0xd800 && code <= 0xdbff) end--;
    const out = this.text.slice(this.emitted, end);
    this.emitted = Math.max(this.emitted, end);
    return out;
  }
}

/**
 * Feeds one sampled token through the detokenizer and the stop checker and returns the text that may
 * be shown now. The bytes of an unfinished character end the text as U+FFFD, unless a stop string cut
 * the text earlier.
 */
export function acceptToken(stop: StopChecker, detokenizer: IncrementalDetokenizer | null, tokenizer: Tokenizer | null, token: number, outputCount: number): string {
  const newText = detokenizer ? detokenizer.push(token) : '';
  let text = stop.update(token, newText, outputCount, tokenizer?.isSpecial(token) ?? false);
  if (stop.state.finishReason && detokenizer && typeof stop.state.stopReason !== 'string') text += stop.appendTail(detokenizer.flush());
  return text;
}
