// How each model family writes a tool call, as its chat template renders one back into the prompt:
// finding the calls in a finished reply, where a call begins (so a stream holds that text back), and
// the grammar that makes the model write calls when tool_choice requires one.

import type { StructuredOutputs } from '../../engine/structured/structured-outputs.js';
import { HarmonyParser } from '../harmony-parser.js';

export interface ToolDefinition {
  name: string;
  parameters?: Record<string, unknown> | undefined;
}

export interface ParsedToolCall {
  name: string;
  /** The arguments as a JSON text, as the OpenAI API carries them. */
  arguments: string;
}

export interface ToolCallParser {
  readonly name: string;
  /** Whether a chat template writes calls this way. */
  detect(template: string): boolean;
  /** Where the first call begins in `text`, or -1. */
  callStart(text: string): number;
  /** How many trailing characters of the unsent `text` a stream must hold back: they may begin a call. */
  holdBack(text: string, contentSent: string): number;
  /** The calls in a finished reply (text from callStart on), or null if it holds none that parse. */
  parse(text: string): ParsedToolCall[] | null;
  /** The grammar forcing one call (or several, `parallel`) of these tools; absent when the markers are special tokens. */
  grammar?(tools: ToolDefinition[], parallel: boolean): StructuredOutputs;
}

/** How many trailing characters of `text` could begin `marker`. */
export function partialMarker(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) if (text.endsWith(marker.slice(0, n))) return n;
  return 0;
}

const argumentsText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v ?? {}));

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One call object {name, arguments|parameters}, or null. */
function callOf(v: unknown): ParsedToolCall | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o['name'] !== 'string') return null;
  return { name: o['name'], arguments: argumentsText(o['arguments'] ?? o['parameters']) };
}

/** A call's JSON object: the tool's name, and its arguments under `key`, matching its parameters. */
function callSchema(tools: ToolDefinition[], key: string): Record<string, unknown> {
  const one = (t: ToolDefinition) => ({
    type: 'object', properties: { name: { const: t.name }, [key]: t.parameters ?? { type: 'object' } }, required: ['name', key], additionalProperties: false,
  });
  return tools.length === 1 ? one(tools[0]!) : { anyOf: tools.map(one) };
}

/** Qwen2.5, Qwen3, Hermes: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, one per call. */
const hermes: ToolCallParser = {
  name: 'hermes',
  holdBack: (text) => partialMarker(text, '<tool_call>'),
  detect: (t) => t.includes('<tool_call>'),
  callStart: (text) => text.indexOf('<tool_call>'),
  parse(text) {
    const calls: ParsedToolCall[] = [];
    // The closing tag may be missing when the reply ended at EOS or max_tokens right after the JSON;
    // a last call that max_tokens cut short is dropped when whole calls came before it.
    for (const m of text.matchAll(/<tool_call>\s*([\s\S]*?)\s*(<\/tool_call>|$)/g)) {
      const call = callOf(parseJson(m[1]!));
      if (!call && m[2] === '' && calls.length > 0) break;
      if (!call) return null;
      calls.push(call);
    }
    return calls.length > 0 ? calls : null;
  },
  grammar(tools, parallel) {
    const tag = { type: 'tag', begin: '<tool_call>\n', content: { type: 'json_schema', json_schema: callSchema(tools, 'arguments') }, end: '\n</tool_call>' };
    return { type: 'structural_tag', tag: { type: 'structural_tag', format: parallel ? { type: 'tags_with_separator', tags: [tag], separator: '\n', at_least_one: true } : tag } };
  },
};

/** Llama 3.1-3.3: the reply is the call itself, `{"name": ..., "parameters": {...}}` (after `<|python_tag|>` at times), calls joined by `;`. */
const llama3Json: ToolCallParser = {
  name: 'llama3_json',
  // A call is the whole reply: until something else has been sent, blanks and a partial tag may begin one.
  holdBack: (text, sent) => (sent === '' && '<|python_tag|>'.startsWith(text.trim()) ? text.length : 0),
  detect: (t) => t.includes('<|python_tag|>') || (t.includes('"parameters"') && t.includes('<|eom_id|>')),
  callStart(text) {
    const m = /^\s*(<\|python_tag\|>)?\s*\{/.exec(text);
    return m ? m.index : -1;
  },
  parse(text) {
    const body = text.replace(/^\s*(<\|python_tag\|>)?/, '');
    const calls = body.split(/\}\s*;\s*\{/).map((part, i, all) => callOf(parseJson(`${i > 0 ? '{' : ''}${part}${i < all.length - 1 ? '}' : ''}`)));
    return calls.every((c) => c !== null) ? (calls as ParsedToolCall[]) : null;
  },
  grammar(tools, parallel) {
    const schema = callSchema(tools, 'parameters');
    if (!parallel) return { type: 'json', schema };
    return { type: 'structural_tag', tag: { type: 'structural_tag', format: { type: 'tags_with_separator', tags: [{ type: 'tag', begin: '', content: { type: 'json_schema', json_schema: schema }, end: '' }], separator: '; ', at_least_one: true } } };
  },
};

/** Mistral: `[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]`, or the newer `[TOOL_CALLS]name[ARGS]{...}`. */
const mistral: ToolCallParser = {
  name: 'mistral',
  holdBack: (text) => partialMarker(text, '[TOOL_CALLS]'),
  detect: (t) => t.includes('[TOOL_CALLS]'),
  callStart: (text) => text.indexOf('[TOOL_CALLS]'),
  parse(text) {
    const parts = text.split('[TOOL_CALLS]').slice(1).map((p) => p.trim());
    const calls: ParsedToolCall[] = [];
    for (const part of parts) {
      const args = /^([\w.-]+)\[ARGS\]([\s\S]*)$/.exec(part);
      if (args) {
        if (parseJson(args[2]!) === undefined) return null;
        calls.push({ name: args[1]!, arguments: args[2]!.trim() });
        continue;
      }
      const list = parseJson(part);
      const items = (Array.isArray(list) ? list : [list]).map(callOf);
      if (items.some((c) => c === null)) return null;
      calls.push(...(items as ParsedToolCall[]));
    }
    return calls.length > 0 ? calls : null;
  },
};

/** DeepSeek-V3 and R1: `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>...`. */
const deepseekV3: ToolCallParser = {
  name: 'deepseek_v3',
  holdBack: (text) => partialMarker(text, '<｜tool▁calls▁begin｜>'),
  detect: (t) => t.includes('tool▁calls▁begin'),
  callStart: (text) => text.indexOf('<｜tool▁calls▁begin｜>'),
  parse(text) {
    const calls: ParsedToolCall[] = [];
    for (const m of text.matchAll(/<｜tool▁call▁begin｜>\w*<｜tool▁sep｜>([^\n]+)\n```(?:json)?\n([\s\S]*?)\n```\s*(?:<｜tool▁call▁end｜>|$)/g)) {
      if (parseJson(m[2]!) === undefined) return null;
      calls.push({ name: m[1]!.trim(), arguments: m[2]!.trim() });
    }
    return calls.length > 0 ? calls : null;
  },
  grammar(tools) {
    const tag = (t: ToolDefinition) => ({
      type: 'tag', begin: `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>${t.name}\n\`\`\`json\n`,
      content: { type: 'json_schema', json_schema: t.parameters ?? { type: 'object' } }, end: '\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
    });
    return { type: 'structural_tag', tag: { type: 'structural_tag', format: tools.length === 1 ? tag(tools[0]!) : { type: 'or', elements: tools.map(tag) } } };
  },
};

/**
 * gpt-oss: a harmony message on the commentary channel addressed to=functions.NAME, its body the
 * arguments. Replies are split by HarmonyParser; the markers are special tokens, so no grammar.
 */
const harmony: ToolCallParser = {
  name: 'harmony',
  holdBack: (text) => partialMarker(text, '<|'),
  detect: (t) => t.includes('<|channel|>commentary'),
  callStart: (text) => text.search(/to=functions\./),
  parse(text) {
    const p = new HarmonyParser(true);
    p.push(text);
    return p.finish().calls;
  },
};

export const TOOL_CALL_PARSERS: readonly ToolCallParser[] = [hermes, llama3Json, mistral, deepseekV3, harmony];
export const TOOL_CALL_PARSER_NAMES = TOOL_CALL_PARSERS.map((p) => p.name);

/** The parser `name` names, else the one the chat template's own tool-call format matches. */
export function toolCallParserFor(template: string | null, name?: string): ToolCallParser | null {
  if (name) return TOOL_CALL_PARSERS.find((p) => p.name === name) ?? null;
  return template ? TOOL_CALL_PARSERS.find((p) => p.detect(template)) ?? null : null;
}
