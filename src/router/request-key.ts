// The part of a request the cache-aware policy matches on: the prompt as numbers. Token-id prompts
// stay token ids (shifted past Unicode so they never match text); text is encoded with the router's
// tokenizer when it has one, else taken as code points. Only the head counts: prefix caching is about
// the head, and the tree stays small. Matched against the workers' KV-cache events, the key must be
// the very token ids the worker computes: the chat template applied, special tokens included.

import { chatPromptIds } from '../model/tokenizer/chat-prompt.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import { chatTemplateKwargs, templateMessages } from '../server/chat-render.js';
import type { ChatRequest } from '../server/openai-schemas.js';

const TOKEN_BASE = 0x110000;
const MAX_KEY = 16384;

/** The prompt's text or token ids from a completions, chat, responses or embeddings body. */
function promptOf(body: Record<string, unknown>): string | number[] {
  const p = body['prompt'] ?? body['input'];
  if (typeof p === 'string') return p;
  if (Array.isArray(p)) {
    if (p.every((x) => typeof x === 'number')) return p as number[];
    const first = p[0];
    if (typeof first === 'string') return first;
    if (Array.isArray(first) && first.every((x) => typeof x === 'number')) return first as number[];
    if (first && typeof first === 'object') return messagesText(p);
  }
  if (Array.isArray(body['messages'])) return messagesText(body['messages']);
  return '';
}

function messagesText(messages: unknown[]): string {
  let out = '';
  for (const m of messages) {
    if (!m || typeof m !== 'object') continue;
    const { role, content } = m as { role?: unknown; content?: unknown };
    out += `<${typeof role === 'string' ? role : ''}>`;
    if (typeof content === 'string') out += content;
    else if (Array.isArray(content)) for (const part of content) if (part && typeof (part as { text?: unknown }).text === 'string') out += (part as { text: string }).text;
  }
  return out;
}

export function routingKey(body: Record<string, unknown>, tokenizer: Tokenizer | null): number[] {
  const p = promptOf(body);
  if (typeof p !== 'string') return p.slice(0, MAX_KEY).map((t) => TOKEN_BASE + t);
  const head = p.slice(0, MAX_KEY * 4);
  if (tokenizer) return tokenizer.encode(head, { addSpecialTokens: false }).slice(0, MAX_KEY).map((t) => TOKEN_BASE + t);
  const out: number[] = [];
  for (const ch of head) {
    if (out.length === MAX_KEY) break;
    out.push(ch.codePointAt(0)!);
  }
  return out;
}

/**
 * The token ids a tsllm worker will compute for this body's (first) prompt, as its completions and chat
 * routes make them; null when the router cannot know them (no tokenizer for text, an odd body).
 */
export function promptTokenIds(body: Record<string, unknown>, tokenizer: Tokenizer | null): number[] | null {
  try {
    if (Array.isArray(body['messages'])) {
      if (!tokenizer) return null;
      const chat = body as unknown as ChatRequest;
      const kwargs = chatTemplateKwargs(chat);
      return chatPromptIds(tokenizer, templateMessages(chat.messages, tokenizer.chatTemplate), { addGenerationPrompt: chat.add_generation_prompt ?? true, ...(kwargs ? { kwargs } : {}) });
    }
    const p = body['prompt'];
    if (typeof p === 'string') return tokenizer ? tokenizer.encode(p) : null;
    if (Array.isArray(p)) {
      if (p.every((x) => Number.isInteger(x))) return p as number[];
      if (typeof p[0] === 'string') return tokenizer ? tokenizer.encode(p[0]) : null;
      if (Array.isArray(p[0]) && p[0].every((x) => Number.isInteger(x))) return p[0] as number[];
    }
  } catch {
    // The worker will say what is wrong with the request.
  }
  return null;
}
