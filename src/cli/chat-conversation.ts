// The conversation `tsllm chat` keeps across turns: an optional system message and the user/assistant
// turns so far, rendered as one prompt per turn. When the prompt outgrows the context, the oldest
// turns go first (as Ollama does), never the system message nor the new user message.

import type { ChatMessage } from '../model/tokenizer/chat-template.js';
import { chatPromptIds } from '../model/tokenizer/chat-prompt.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import { UsageError } from '../util/errors.js';

export class Conversation {
  private turns: { user: string; assistant: string }[] = [];

  constructor(public system: string | null = null) {}

  get length(): number {
    return this.turns.length;
  }

  reset(): void {
    this.turns = [];
  }

  addTurn(user: string, assistant: string): void {
    this.turns.push({ user, assistant });
  }

  messages(nextUser: string, from = 0): ChatMessage[] {
    const out: ChatMessage[] = this.system ? [{ role: 'system', content: this.system }] : [];
    for (const t of this.turns.slice(from)) out.push({ role: 'user', content: t.user }, { role: 'assistant', content: t.assistant });
    out.push({ role: 'user', content: nextUser });
    return out;
  }

  /**
   * The prompt for the next turn, at most `maxTokens` long: the oldest turns are forgotten until it
   * fits (`dropped` says how many).
   */
  prompt(tok: Tokenizer, nextUser: string, maxTokens: number): { ids: number[]; dropped: number } {
    for (let from = 0; from <= this.turns.length; from++) {
      const ids = chatPromptIds(tok, this.messages(nextUser, from));
      if (ids.length <= maxTokens) {
        this.turns = this.turns.slice(from);
        return { ids, dropped: from };
      }
    }
    throw new UsageError(`that message is too long for the model's context (${maxTokens} prompt tokens at most)`);
  }
}
