// gpt-oss replies in OpenAI's harmony format: a run of messages, each a header and a body,
//   <|channel|>analysis<|message|>thinking<|end|><|start|>assistant<|channel|>final<|message|>answer
//   <|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{...}
// The analysis channel is reasoning_content, the final channel (and commentary meant for the user)
// content, a commentary message addressed to=functions.NAME a tool call. The markers are special
// tokens, so the reply is detokenized with them kept; <|return|> and <|call|> end generation (EOS) and
// never reach the text. Text before any header (a model off the format) is content.

import type { ChoiceDelta } from './choice-parser.js';
import type { ParsedToolCall } from './tools/tool-call-parsers.js';

const MESSAGE = '<|message|>';
const ENDS = ['<|end|>', '<|call|>', '<|return|>'];
/** Longest header we wait for before deciding the text is not one. */
const MAX_HEADER = 256;

export class HarmonyParser {
  private pending = '';
  private inBody = false;
  /** After <|start|>: a header (role, channel, recipient) comes next, whatever it starts with. */
  private afterStart = false;
  private field: keyof ChoiceDelta | 'call' = 'content';
  private recipient = '';
  private args = '';
  private readonly calls: ParsedToolCall[] = [];

  /** `toolsEnabled` false (no tools, or tool_choice none): a call the model makes anyway stays text. */
  constructor(private readonly toolsEnabled: boolean) {}

  push(text: string): ChoiceDelta[] {
    this.pending += text;
    const out: ChoiceDelta[] = [];
    for (;;) {
      if (!this.inBody) {
        const at = this.pending.indexOf(MESSAGE);
        if (at < 0) {
          const headerLike = this.pending === '' || this.afterStart || this.pending.startsWith('<|');
          if (this.pending.length <= MAX_HEADER && headerLike) return out;
          // Not a header: the model is off the format; its text is content.
          this.openBody('', 'final');
          continue;
        }
        this.openBody(this.pending.slice(0, at), null);
        this.pending = this.pending.slice(at + MESSAGE.length);
        continue;
      }
      const marker = this.pending.indexOf('<|');
      if (marker < 0) {
        this.emit(out, this.pending);
        this.pending = '';
        return out;
      }
      this.emit(out, this.pending.slice(0, marker));
      this.pending = this.pending.slice(marker);
      const close = this.pending.indexOf('|>');
      if (close < 0) return out;
      const token = this.pending.slice(0, close + 2);
      if (ENDS.includes(token)) {
        this.pending = this.pending.slice(token.length);
        this.closeMessage();
      } else if (token === '<|start|>' || token === '<|channel|>') {
        this.closeMessage();
      } else {
        // Any other marker inside a body is its text.
        this.emit(out, token);
        this.pending = this.pending.slice(token.length);
      }
    }
  }

  /** The rest once the reply is done (it ended at EOS: <|return|> or <|call|>), and its calls. */
  finish(): { deltas: ChoiceDelta[]; calls: ParsedToolCall[] | null } {
    const out: ChoiceDelta[] = [];
    if (!this.inBody && this.pending !== '') this.openBody('', 'final');
    this.emit(out, this.pending);
    this.pending = '';
    this.closeMessage();
    return { deltas: out, calls: this.calls.length > 0 ? this.calls : null };
  }

  /** Enters a message body; `header` is what came before <|message|> (channel, recipient, constraint). */
  private openBody(header: string, channel: string | null): void {
    const ch = channel ?? /<\|channel\|>\s*(\w+)/.exec(header)?.[1] ?? 'final';
    const to = /\bto=([^\s<]+)/.exec(header)?.[1] ?? '';
    this.inBody = true;
    this.afterStart = false;
    this.recipient = to.startsWith('functions.') && this.toolsEnabled ? to.slice('functions.'.length) : '';
    this.field = this.recipient ? 'call' : ch === 'analysis' ? 'reasoning_content' : 'content';
    this.args = '';
  }

  private closeMessage(): void {
    if (this.inBody && this.field === 'call') this.calls.push({ name: this.recipient, arguments: this.args.trim() });
    this.inBody = false;
    // What follows <|start|> up to the next <|message|> is the next header.
    if (this.pending.startsWith('<|start|>')) {
      this.pending = this.pending.slice('<|start|>'.length);
      this.afterStart = true;
    }
  }

  private emit(out: ChoiceDelta[], text: string): void {
    if (text === '') return;
    if (this.field === 'call') this.args += text;
    else out.push({ [this.field]: text });
  }
}
