// One request's output text as it grows: stop strings are matched on the decoded text, so one split
// across tokens is still caught, and the tail that could still become a stop string is held back so
// it is never emitted.

import type { SamplingParams } from '../sampling/sampling-params.js';

export class StopStringText {
  private text = '';
  private emitted = 0;
  private readonly holdBack: number;

  constructor(private readonly params: SamplingParams) {
    this.holdBack = params.stop.reduce((m, s) => Math.max(m, s.length - 1), 0);
  }

  /**
   * Adds one token's text; `outputCount` counts the outputs through this token (0: no stop-string
   * check). Returns the stop string that now ends the text (cut before it), or null.
   */
  append(newText: string, outputCount: number): string | null {
    this.text += newText;
    if (outputCount <= this.params.minTokens || this.params.stop.length === 0) return null;
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
    if (cut < 0) return null;
    this.text = this.text.slice(0, cut);
    return which;
  }

  /** The text that may be shown now: all of it once `final`, else all but what a stop string could still claim. */
  take(final: boolean): string {
    const upTo = final ? this.text.length : Math.max(this.emitted, this.text.length - this.holdBack);
    // Never split a surrogate pair when holding text back.
    let end = Math.min(upTo, this.text.length);
    const code = this.text.charCodeAt(end - 1);
    if (end < this.text.length && code >= 0xd800 && code <= 0xdbff) end--;
    const out = this.text.slice(this.emitted, end);
    this.emitted = Math.max(this.emitted, end);
    return out;
  }
}
