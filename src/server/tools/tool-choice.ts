// What a chat request's tools and tool_choice mean for generation: whether the reply is searched for
// calls, and the grammar that forces calls when tool_choice is "required" or names a function.

import type { StructuredOutputs } from '../../engine/structured/structured-outputs.js';
import { invalidRequest } from '../openai-error.js';
import type { ChatRequest } from '../openai-schemas.js';
import type { ToolCallParser } from './tool-call-parsers.js';

export interface ToolPlan {
  /** Parses calls out of the reply; null: the reply is plain content. */
  parser: ToolCallParser | null;
  /** Forces calls (required or named tool_choice). */
  structured: StructuredOutputs | null;
}

export function toolPlan(body: ChatRequest, parser: ToolCallParser | null): ToolPlan {
  const tools = body.tools ?? [];
  const choice = body.tool_choice ?? (tools.length > 0 ? 'auto' : 'none');
  if (tools.length === 0) {
    if (choice !== 'none' && choice !== 'auto') throw invalidRequest('tool_choice needs tools', 'tool_choice');
    return { parser: null, structured: null };
  }
  if (choice === 'none') return { parser: null, structured: null };
  if (choice === 'auto') return { parser, structured: null };
  if (!parser) {
    throw invalidRequest('this model\'s chat template writes no tool-call format tsllm knows; start the server with --tool-call-parser', 'tool_choice');
  }
  if (!parser.grammar) throw invalidRequest(`tool_choice "${typeof choice === 'string' ? choice : 'function'}" cannot be enforced for the ${parser.name} format, whose markers are special tokens; use "auto"`, 'tool_choice');
  const defs = tools.map((t) => ({ name: t.function.name, parameters: t.function.parameters as Record<string, unknown> | undefined }));
  if (choice === 'required') return { parser, structured: parser.grammar(defs, body.parallel_tool_calls ?? true) };
  const named = defs.filter((d) => d.name === choice.function.name);
  if (named.length === 0) throw invalidRequest(`tool_choice names ${choice.function.name}, which is not among the tools`, 'tool_choice');
  return { parser, structured: parser.grammar(named, false) };
}
