// Models that think before they answer (Qwen3, DeepSeek-R1 and its distills) write the thinking
// between <think> and </think>, gpt-oss in its analysis channel; the API returns it as
// `reasoning_content`, apart from `content`.

export interface ReasoningParser {
  readonly name: string;
  readonly start: string;
  readonly end: string;
  detect(template: string): boolean;
}

const think: ReasoningParser = { name: 'think', start: '<think>', end: '</think>', detect: (t) => t.includes('<think>') };

/** gpt-oss: the analysis channel of its harmony messages (harmony-parser.ts splits the reply). */
const harmony: ReasoningParser = { name: 'harmony', start: '<|channel|>analysis<|message|>', end: '<|end|>', detect: (t) => t.includes('<|channel|>analysis') };

export const REASONING_PARSERS: readonly ReasoningParser[] = [think, harmony];
export const REASONING_PARSER_NAMES = REASONING_PARSERS.map((p) => p.name);

/** The parser `name` names ('none' for none), else the one the chat template's markers match. */
export function reasoningParserFor(template: string | null, name?: string): ReasoningParser | null {
  if (name === 'none') return null;
  if (name) return REASONING_PARSERS.find((p) => p.name === name) ?? null;
  return template ? REASONING_PARSERS.find((p) => p.detect(template)) ?? null : null;
}

/** A prompt that ends inside an open thinking block (DeepSeek-R1's template opens it): the reply starts thinking. */
export function promptOpensReasoning(parser: ReasoningParser, promptText: string): boolean {
  const open = promptText.lastIndexOf(parser.start);
  return open >= 0 && promptText.indexOf(parser.end, open) < 0;
}
