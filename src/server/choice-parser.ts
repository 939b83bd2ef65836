// One chat choice's text, split as it streams into reasoning, content and tool calls. Text that may
// be the start of a marker (</think>, <tool_call>, ...) is held back until it is known not to be, so
// no client ever sees half a marker as content.

import type { ReasoningParser } from './reasoning-parser.js';
import { partialMarker, type ParsedToolCall, type ToolCallParser } from './tools/tool-call-parsers.js';

export interface ChoiceDelta {
  content?: string;
  reasoning_content?: string;
}

/** Splits one choice's streamed text; the harmony format has its own (harmony-parser.ts). */
export interface ReplyParser {
  push(text: string): ChoiceDelta[];
  finish(): { deltas: ChoiceDelta[]; calls: ParsedToolCall[] | null };
}


export class ChoiceParser implements ReplyParser {
  private mode: 'reasoning' | 'content' | 'tools';
  private pending = '';
  /** Content already sent (tool-call formats such as Llama 3's only start a reply). */
  private content = '';
  private toolText = '';
  /** Just past the end of the thinking: the blank lines before the answer are not content. */
  private trimLead = false;

  constructor(
    private readonly tools: ToolCallParser | null,
    private readonly reasoning: ReasoningParser | null,
    startsInReasoning: boolean,
  ) {
    this.mode = reasoning && startsInReasoning ? 'reasoning' : 'content';
  }

  push(text: string): ChoiceDelta[] {
    this.pending += text;
    const out: ChoiceDelta[] = [];
    for (;;) {
      if (this.mode === 'reasoning') {
        const r = this.reasoning!;
        if (this.pending.startsWith(r.start)) this.pending = this.pending.slice(r.start.length);
        const end = this.pending.indexOf(r.end);
        if (end < 0) {
          const keep = Math.max(partialMarker(this.pending, r.end), r.start.startsWith(this.pending) ? this.pending.length : 0);
          this.emit(out, 'reasoning_content', this.pending.slice(0, this.pending.length - keep));
          this.pending = this.pending.slice(this.pending.length - keep);
          return out;
        }
        this.emit(out, 'reasoning_content', this.pending.slice(0, end));
        this.pending = this.pending.slice(end + r.end.length);
        this.mode = 'content';
        this.trimLead = true;
        continue;
      }
      if (this.mode === 'tools') {
        this.toolText += this.pending;
        this.pending = '';
        return out;
      }
      if (this.trimLead) {
        this.pending = this.pending.replace(/^\s+/, '');
        if (this.pending === '') return out;
        this.trimLead = false;
      }
      // Content. A reply may open with a thinking block the prompt did not open.
      if (this.reasoning && this.content === '') {
        const lead = this.pending.replace(/^\s+/, '');
        if (lead.startsWith(this.reasoning.start)) {
          this.pending = lead;
          this.mode = 'reasoning';
          continue;
        }
        if (this.reasoning.start.startsWith(lead)) return out;
      }
      if (this.tools) {
        const whole = this.content + this.pending;
        const at = this.tools.callStart(whole);
        if (at >= this.content.length) {
          this.emit(out, 'content', whole.slice(this.content.length, at));
          this.toolText = whole.slice(at);
          this.pending = '';
          this.mode = 'tools';
          return out;
        }
        const keep = this.tools.holdBack(this.pending, this.content);
        this.emit(out, 'content', this.pending.slice(0, this.pending.length - keep));
        this.pending = this.pending.slice(this.pending.length - keep);
        return out;
      }
      this.emit(out, 'content', this.pending);
      this.pending = '';
      return out;
    }
  }

  /** The rest, once the choice is done: held-back text, and the tool calls if the reply made any. */
  finish(): { deltas: ChoiceDelta[]; calls: ParsedToolCall[] | null } {
    const out: ChoiceDelta[] = [];
    if (this.mode === 'tools') {
      const calls = this.tools!.parse(this.toolText);
      // Text that only looked like a call is content after all.
      if (!calls) this.emit(out, 'content', this.toolText);
      return { deltas: out, calls };
    }
    this.emit(out, this.mode === 'reasoning' ? 'reasoning_content' : 'content', this.pending);
    this.pending = '';
    return { deltas: out, calls: null };
  }

  private emit(out: ChoiceDelta[], field: keyof ChoiceDelta, text: string): void {
    if (text === '') return;
    if (field === 'content') this.content += text;
    out.push({ [field]: text });
  }
}
