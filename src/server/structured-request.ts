// A request's output constraint, from whichever field the client used: OpenAI's response_format,
// vLLM's structured_outputs, or the older guided_* fields. At most one may be given.

import { z } from 'zod';
import type { StructuredOutputs } from '../engine/structured/structured-outputs.js';
import { invalidRequest } from './openai-error.js';

const jsonSchemaValue = z.union([z.boolean(), z.record(z.string(), z.unknown())]);

export const structuredRequestFields = {
  response_format: z.discriminatedUnion('type', [
    z.object({ type: z.literal('text') }),
    z.object({ type: z.literal('json_object') }),
    z.object({
      type: z.literal('json_schema'),
      json_schema: z.object({ name: z.string().optional(), description: z.string().optional(), schema: jsonSchemaValue.optional(), strict: z.boolean().nullish() }),
    }),
  ]).nullish(),
  structured_outputs: z.object({
    json: z.union([jsonSchemaValue, z.string()]).nullish(),
    json_object: z.boolean().nullish(),
    regex: z.string().nullish(),
    choice: z.array(z.string()).min(1).nullish(),
    grammar: z.string().nullish(),
    structural_tag: z.union([z.string(), z.record(z.string(), z.unknown())]).nullish(),
  }).nullish(),
  guided_json: z.union([jsonSchemaValue, z.string()]).nullish(),
  guided_regex: z.string().nullish(),
  guided_choice: z.array(z.string()).min(1).nullish(),
  guided_grammar: z.string().nullish(),
};

type Fields = { [K in keyof typeof structuredRequestFields]?: z.output<(typeof structuredRequestFields)[K]> };

/** The constraint and the field it came from, or null for free text. */
export function structuredOutputsOf(body: Fields): { spec: StructuredOutputs; field: string } | null {
  const found: { spec: StructuredOutputs; field: string }[] = [];
  const rf = body.response_format;
  if (rf?.type === 'json_object') found.push({ spec: { type: 'json_object' }, field: 'response_format' });
  if (rf?.type === 'json_schema') found.push({ spec: { type: 'json', schema: rf.json_schema.schema ?? {} }, field: 'response_format.json_schema.schema' });
  const so = body.structured_outputs;
  if (so) {
    const kinds = Object.entries(so).filter(([, v]) => v !== null && v !== undefined && v !== false);
    if (kinds.length !== 1) throw invalidRequest('structured_outputs takes exactly one of json, json_object, regex, choice, grammar, structural_tag', 'structured_outputs');
    const [kind] = kinds[0]!;
    const field = `structured_outputs.${kind}`;
    if (so.json != null) found.push({ spec: { type: 'json', schema: parseSchema(so.json, field) }, field });
    if (so.json_object) found.push({ spec: { type: 'json_object' }, field });
    if (so.regex != null) found.push({ spec: { type: 'regex', pattern: so.regex }, field });
    if (so.choice != null) found.push({ spec: { type: 'choice', choices: so.choice }, field });
    if (so.grammar != null) found.push({ spec: { type: 'grammar', grammar: so.grammar }, field });
    if (so.structural_tag != null) found.push({ spec: { type: 'structural_tag', tag: typeof so.structural_tag === 'string' ? parseSchema(so.structural_tag, field) as Record<string, unknown> : so.structural_tag }, field });
  }
  if (body.guided_json != null) found.push({ spec: { type: 'json', schema: parseSchema(body.guided_json, 'guided_json') }, field: 'guided_json' });
  if (body.guided_regex != null) found.push({ spec: { type: 'regex', pattern: body.guided_regex }, field: 'guided_regex' });
  if (body.guided_choice != null) found.push({ spec: { type: 'choice', choices: body.guided_choice }, field: 'guided_choice' });
  if (body.guided_grammar != null) found.push({ spec: { type: 'grammar', grammar: body.guided_grammar }, field: 'guided_grammar' });
  if (found.length > 1) throw invalidRequest(`give one output constraint, not ${found.map((f) => f.field).join(' and ')}`, found[1]!.field);
  return found[0] ?? null;
}

function parseSchema(v: unknown, field: string): boolean | Record<string, unknown> {
  if (typeof v !== 'string') return v as boolean | Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(v);
    if (typeof parsed === 'boolean' || (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))) return parsed as boolean | Record<string, unknown>;
  } catch {
    // reported below
  }
  throw invalidRequest(`${field} is not a JSON schema (an object, or a string holding one)`, field);
}

/** The outputs, with a grammar that does not compile reported as a 400 naming the request's field. */
export async function* namingField<T>(outputs: AsyncGenerator<T>, field: string | undefined): AsyncGenerator<T> {
  try {
    yield* outputs;
  } catch (e) {
    if (field && e instanceof Error && e.message.startsWith('the structured output cannot be compiled')) throw invalidRequest(`${field}: ${e.message}`, field);
    throw e;
  }
}
