// A request's constraint compiled by xgrammar, the one way both the grammar thread and the grammar
// benchmark do it.

import type { CompiledGrammar, GrammarCompiler } from '@mlc-ai/web-xgrammar';
import { choiceGrammar, type StructuredOutputs } from './structured-outputs.js';
import type { XGrammarModule } from './xgrammar-module.js';

/**
 * xgrammar reports a bad schema or grammar by printing "[FATAL] file:line: what" and aborting the call
 * (the module stays usable); the printed line is the message users need, so it is caught here.
 */
export async function compileGrammar(X: XGrammarModule, c: GrammarCompiler, spec: StructuredOutputs): Promise<CompiledGrammar> {
  const printed: string[] = [];
  // The bundle bound console.error when it loaded, so the line is caught where the console writes it.
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => printed.push(String(chunk)) > 0) as typeof write;
  try {
    return await compileSpec(X, c, spec);
  } catch (e) {
    const fatal = printed.map((l) => /\[FATAL\][^:]*:\d+: (.*)/s.exec(l)?.[1]).find((m) => m !== undefined);
    throw new Error(fatal?.trim() ?? errorText(e));
  } finally {
    process.stderr.write = write;
  }
}

async function compileSpec(X: XGrammarModule, c: GrammarCompiler, spec: StructuredOutputs): Promise<CompiledGrammar> {
  switch (spec.type) {
    case 'json':
      return c.compileGrammar(await jsonGrammar(X, spec.schema), 'root');
    case 'json_object':
      return c.compileBuiltinJSONGrammar();
    case 'regex':
      return c.compileStructuralTag({ type: 'structural_tag', format: { type: 'regex', pattern: spec.pattern } });
    case 'choice':
      return c.compileGrammar(choiceGrammar(spec.choices), 'root');
    case 'grammar':
      return c.compileGrammar(spec.grammar, 'root');
    case 'structural_tag':
      return c.compileStructuralTag(await compactJsonIn(X, spec.tag) as Record<string, unknown>);
  }
}

/**
 * A JSON schema as compact JSON's grammar (no free whitespace: a weak model cannot spend its tokens on
 * blanks). xgrammar's rule for length-bounded strings lets raw control characters through, which JSON
 * forbids (its unbounded strings exclude them): that class is closed to them here.
 */
async function jsonGrammar(X: XGrammarModule, schema: unknown): Promise<string> {
  const ebnf = await X.Testings._jsonSchemaToEBNF(JSON.stringify(schema), false, -1, [',', ':'], true);
  return ebnf.replaceAll('[^"\\\\\\r\\n]', '[^"\\\\\\0-\\x1f]');
}

/** A structural tag with each json_schema part replaced by the compact grammar above. */
async function compactJsonIn(X: XGrammarModule, node: unknown): Promise<unknown> {
  if (Array.isArray(node)) return Promise.all(node.map((n) => compactJsonIn(X, n)));
  if (typeof node !== 'object' || node === null) return node;
  const o = node as Record<string, unknown>;
  if (o['type'] === 'json_schema' && 'json_schema' in o) return { type: 'grammar', grammar: await jsonGrammar(X, o['json_schema']) };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = await compactJsonIn(X, v);
  return out;
}

/**
 * What the grammar thread compiles when it starts, before any request: the builtin JSON grammar (ready
 * for json_object requests). It also brings xgrammar's WebAssembly heap and the JSON rules' paths up
 * to working size, which otherwise cost the first schema's compile up to 100 ms more.
 */
export function warmCompiler(c: GrammarCompiler): Promise<CompiledGrammar> {
  return c.compileBuiltinJSONGrammar();
}

export function errorText(e: unknown): string {
  // xgrammar's C++ exceptions reach JS as numbers or plain objects; the message is what users need.
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  return String((e as { message?: unknown })?.message ?? e);
}
