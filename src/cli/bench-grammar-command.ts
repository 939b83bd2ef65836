// tsllm bench grammar: xgrammar's compile time and next-token mask time on ten real-world JSON
// schemas, with a model's tokenizer (the mask's cost grows with the vocabulary).

import { Command } from 'commander';
import { benchGrammar } from '../bench/grammar-bench.js';
import { loadHfTokenizer } from '../model/tokenizer/hf-tokenizer-files.js';
import { UsageError } from '../util/errors.js';
import { runCommand } from './run-command.js';
import { printTable } from './table.js';

export function benchGrammarCommand(): Command {
  return new Command('grammar')
    .description('structured outputs: grammar compile time and next-token mask time per schema, for a tokenizer')
    .requiredOption('--tokenizer <dir>', 'tokenizer folder (tokenizer.json, tokenizer_config.json), e.g. a Hugging Face model folder')
    .option('--json', 'print the results as JSON')
    .action((f: { tokenizer: string; json?: boolean }) => runCommand(async () => {
      const tok = loadHfTokenizer(f.tokenizer);
      if (!tok) throw new UsageError(`${f.tokenizer} holds no tokenizer.json`);
      const r = await benchGrammar(tok);
      if (f.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      process.stdout.write(`xgrammar (WebAssembly), vocabulary ${r.vocabSize}\n`);
      printTable(['schema', 'compile ms', 'tokens', 'mask median ms', 'mask p99 ms'],
        [...r.rows.map((x) => [x.schema, x.compileMs.toFixed(1), String(x.tokens), x.maskMedianMs.toFixed(3), x.maskP99Ms.toFixed(3)]),
          ['all', `median ${r.compileMedianMs.toFixed(1)}, max ${r.compileMaxMs.toFixed(1)}`, '', r.maskMedianMs.toFixed(3), r.maskP99Ms.toFixed(3)]]);
    }));
}
