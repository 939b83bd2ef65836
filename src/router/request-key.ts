// The part of a request the cache-aware policy matches on: the prompt as numbers. Token-id prompts
// stay token ids (shifted past Unicode so they never match text); text is encoded with the router's
// tokenizer when it has one, else taken as code points. Only the head counts: prefix caching is about
// the head, and the tree stays small.

import type { Tokenizer } from '../model/tokenizer/tokenizer.js';

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
