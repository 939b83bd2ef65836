// A conversation as prompt token ids: through the model's chat template when it has one, else as plain
// continuation text, so that a model trained only to continue text (stories260K, a base model) can
// still sit behind `tsllm chat`, the web page and /v1/chat/completions, as llama-server lets it.

import type { Tokenizer } from './tokenizer.js';
import { renderChatTemplate, type ChatMessage } from './chat-template.js';

export interface ChatPromptOptions {
  addGenerationPrompt?: boolean;
  /** Extra template variables (tools, enable_thinking, ...); a template-less prompt has no use for them. */
  kwargs?: Record<string, unknown>;
}

export function chatPromptIds(tok: Tokenizer, messages: ChatMessage[], opts: ChatPromptOptions = {}): number[] {
  if (!tok.chatTemplate) return tok.encode(continuationText(messages));
  const text = renderChatTemplate(tok.chatTemplate, messages, {
    addGenerationPrompt: opts.addGenerationPrompt ?? true, bosToken: tok.bosToken, eosToken: tok.eosToken,
    ...(opts.kwargs ? { kwargs: opts.kwargs } : {}),
  });
  return tok.encode(text, { addSpecialTokens: false });
}

/**
 * The messages as one text: an assistant message continues the text before it (it was generated as
 * its continuation); any other message starts a new line.
 */
export function continuationText(messages: readonly ChatMessage[]): string {
  let text = '';
  for (const m of messages) {
    if (m.content === '') continue;
    text += text === '' || m.role === 'assistant' ? m.content : `\n${m.content}`;
  }
  return text;
}
