// What a request's output must match (vLLM's structured_outputs, OpenAI's response_format, the tools
// a tool_choice requires): one of these, compiled by xgrammar into a matcher that masks the tokens
// that would break it.

import { z } from 'zod';

const jsonSchema = z.union([z.boolean(), z.record(z.string(), z.unknown())]);

export const structuredOutputsSchema = z.discriminatedUnion('type', [
  /** JSON matching a JSON schema. */
  z.object({ type: z.literal('json'), schema: jsonSchema }),
  /** Any JSON object (response_format json_object). */
  z.object({ type: z.literal('json_object') }),
  z.object({ type: z.literal('regex'), pattern: z.string().min(1) }),
  /** Exactly one of these strings. */
  z.object({ type: z.literal('choice'), choices: z.array(z.string()).min(1) }),
  /** An EBNF grammar (GBNF, as llama.cpp writes them) with a `root` rule. */
  z.object({ type: z.literal('grammar'), grammar: z.string().min(1) }),
  /** xgrammar's structural tag: tagged regions (tool calls) in free text. */
  z.object({ type: z.literal('structural_tag'), tag: z.record(z.string(), z.unknown()) }),
]);

export type StructuredOutputs = z.output<typeof structuredOutputsSchema>;

/** One compiled grammar per distinct key. */
export function grammarKey(s: StructuredOutputs): string {
  return JSON.stringify(s);
}

/** `choice` as an EBNF grammar: the alternatives as string literals. */
export function choiceGrammar(choices: readonly string[]): string {
  return `root ::= ${choices.map((c) => JSON.stringify(c)).join(' | ')}`;
}
