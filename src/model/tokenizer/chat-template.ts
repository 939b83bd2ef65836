// Chat templates, rendered by @huggingface/jinja the way transformers' apply_chat_template does.
// strftime_now prints the date the caller gives (today by default), so renders can be pinned.

import { Environment, Interpreter, Template } from '@huggingface/jinja';
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
  /** The date strftime_now formats; now when absent. */
  now?: Date;
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
    const now = opts.now ?? new Date();
    return t.render({
      strftime_now: (format: string) => strftime(now, format),
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

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

// Python's strftime for the directives chat templates use, in English as Python's C locale prints
// them (the library's own follows the host's locale).
function strftime(d: Date, format: string): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return format.replace(/%[YmdbBHMS%]/g, (t) => {
    switch (t) {
      case '%Y': return String(d.getFullYear());
      case '%m': return pad(d.getMonth() + 1);
      case '%d': return pad(d.getDate());
      case '%b': return MONTHS[d.getMonth()]!.slice(0, 3);
      case '%B': return MONTHS[d.getMonth()]!;
      case '%H': return pad(d.getHours());
      case '%M': return pad(d.getMinutes());
      case '%S': return pad(d.getSeconds());
      default: return '%';
    }
  });
}

// Jinja's select/reject filters with a test (`tools | reject('equalto', 'code_interpreter')`, in
// Llama 3.1's template), which @huggingface/jinja (0.5.13 included) lacks and offers no way to
// register: its filter dispatch is wrapped once, everything else goes to the library.
type Runtime = { value: unknown; constructor: new (v: unknown) => Runtime };
type FilterNode = { type: string; callee?: { type: string; value: string }; args?: unknown[] };
type Env = { tests: Map<string, (...a: Runtime[]) => boolean> };
const proto = Interpreter.prototype as unknown as {
  applyFilter(operand: Runtime, node: FilterNode, env: Env): Runtime;
  evaluate(node: unknown, env: Env): Runtime;
};
const libraryFilter = proto.applyFilter;
proto.applyFilter = function (this: typeof proto, operand, node, env) {
  const name = node.type === 'CallExpression' && node.callee?.type === 'Identifier' ? node.callee.value : null;
  if ((name === 'select' || name === 'reject') && Array.isArray(operand.value)) {
    const [test, ...args] = (node.args ?? []).map((a) => this.evaluate(a, env));
    const fn = test ? env.tests.get(String(test.value)) : (x: Runtime) => Boolean(x.value);
    if (!fn) throw new Error(`Unknown test: ${String(test?.value)}`);
    const kept = (operand.value as Runtime[]).filter((x) => fn(x, ...args) === (name === 'select'));
    return new operand.constructor(kept);
  }
  return libraryFilter.call(this, operand, node, env);
};

// The library declares its own strftime_now (today's date, in the host's locale) before the render
// variables and refuses to declare a name twice: ours replaces it.
const envProto = Environment.prototype as unknown as { variables: Map<string, unknown>; set(name: string, value: unknown): unknown };
const librarySet = envProto.set;
envProto.set = function (this: typeof envProto, name, value) {
  if (name === 'strftime_now') this.variables.delete(name);
  return librarySet.call(this, name, value);
};
