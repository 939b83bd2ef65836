// Chat templates, rendered by @huggingface/jinja the way transformers' apply_chat_template does.
// No strftime_now is offered: templates that would print today's date fall back to their own
// default, so a prompt renders the same on every day (and as the goldens do).

import { Template } from '@huggingface/jinja';
import { UsageError } from '../../util/errors.js';

export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  bosToken?: string | null;
  eosToken?: string | null;
  /** Extra template variables (tools, documents, date_string, ...). */
  kwargs?: Record<string, unknown>;
}

/** tokenizer_config.json's chat_template: a string, or a list of named templates. */
export function pickChatTemplate(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as { name?: string; template?: string }[];
    return (named.find((t) => t.name === 'default') ?? named[0])?.template ?? null;
  }
  return null;
}

const compiled = new Map<string, Template>();

export function renderChatTemplate(template: string, messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
  let t = compiled.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new UsageError(`the chat template does not parse: ${(e as Error).message}`);
    }
    compiled.set(template, t);
  }
  try {
    return t.render({
      ...opts.kwargs,
      messages,
      add_generation_prompt: opts.addGenerationPrompt ?? true,
      bos_token: opts.bosToken ?? '',
      eos_token: opts.eosToken ?? '',
    });
  } catch (e) {
    throw new UsageError(`the chat template failed on these messages: ${(e as Error).message}`);
  }
}
