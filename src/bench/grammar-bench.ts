// What constrained decoding costs per token: for each schema, xgrammar's compile time, then the
// time to compute the next-token mask at every position of a valid instance as the model's tokenizer
// spells it (the masks are what the engine waits for before sampling).

import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import { xgrammar } from '../engine/structured/xgrammar-module.js';
import { compileGrammar, warmCompiler } from '../engine/structured/grammar-compile.js';
import { median, percentile } from './stats.js';
import { BENCH_SCHEMAS } from './grammar-schemas.js';

export interface GrammarBenchRow {
  schema: string;
  compileMs: number;
  tokens: number;
  maskMedianMs: number;
  maskP99Ms: number;
}

export interface GrammarBenchResult {
  vocabSize: number;
  rows: GrammarBenchRow[];
  /** Over every position of every schema. */
  maskMedianMs: number;
  maskP99Ms: number;
  compileMedianMs: number;
  compileMaxMs: number;
}

export async function benchGrammar(tok: Tokenizer, onRow?: (r: GrammarBenchRow) => void): Promise<GrammarBenchResult> {
  const X = xgrammar();
  const { pieces, encoding } = tok.grammarVocabulary();
  const info = await X.TokenizerInfo.createTokenizerInfo(pieces, encoding, false, pieces.length, tok.eosTokenIds);
  // No cache across schemas: each compile is a first compile, as for a schema the server has not seen.
  const compiler = await X.GrammarCompiler.createGrammarCompiler(info, false);
  // Warmed up as the server's grammar thread is when it starts: a cost paid once per process, not per schema.
  (await warmCompiler(compiler)).dispose();
  const rows: GrammarBenchRow[] = [];
  const all: number[] = [];
  for (const s of BENCH_SCHEMAS) {
    const t0 = performance.now();
    const compiled = await compileGrammar(X, compiler, { type: 'json', schema: s.schema });
    const compileMs = performance.now() - t0;
    const matcher = await X.GrammarMatcher.createGrammarMatcher(compiled);
    const ids = [...tok.encode(JSON.stringify(s.instance), { addSpecialTokens: false }), ...tok.eosTokenIds.slice(0, 1)];
    // A SentencePiece normalizer puts a space before the text; a model's output continues its prompt
    // and has none there.
    if (pieces[ids[0]!] === '\u2581') ids.shift();
    const times: number[] = [];
    for (const id of ids) {
      const t = performance.now();
      await matcher.getNextTokenBitmask();
      times.push(performance.now() - t);
      if (!matcher.acceptToken(id)) throw new Error(`${s.name}: the grammar refuses its own valid instance at token ${id}`);
    }
    matcher.dispose();
    compiled.dispose();
    all.push(...times);
    const row = { schema: s.name, compileMs, tokens: ids.length, maskMedianMs: median(times), maskP99Ms: percentile(times, 99) };
    rows.push(row);
    onRow?.(row);
  }
  const compiles = rows.map((r) => r.compileMs);
  return { vocabSize: pieces.length, rows, maskMedianMs: median(all), maskP99Ms: percentile(all, 99), compileMedianMs: median(compiles), compileMaxMs: Math.max(...compiles) };
}
