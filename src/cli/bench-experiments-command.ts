// tsllm bench experiments: reruns the seed's experiments on a model and writes them, with charts,
// into a markdown file (docs/BENCHMARKS.md by default), replacing the previous run's section.

import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { EXPERIMENTS, runExperiments, spliceExperiments, type Experiment } from '../bench/experiments.js';
import { UsageError } from '../util/errors.js';
import { LOAD_FORMATS, type LoadFormat } from '../model/load-model.js';
import { addBackendOptions, type BackendFlags } from './backend-options.js';
import { addEngineOptions, engineOptionsFromFlags, type EngineFlags } from './engine-flags.js';
import { parseFloatArg, parseIdList, parseIntArg, runCommand } from './run-command.js';
import { MODEL_FLAG_DEFAULT, withBuiltinModel } from './builtin-model.js';

interface ExperimentsFlags extends BackendFlags, EngineFlags {
  model?: string;
  loadFormat: LoadFormat;
  only: string;
  kvPromptLen: number;
  kvOutputLens: number[];
  numPrompts: number;
  inputLen: number;
  outputLen: number;
  rangeRatio: number;
  prefixPrompts: number;
  prefixLen: number;
  suffixLen: number;
  prefixOutputLen: number;
  kvDtypeContext: number;
  kvDtypeBatch: number;
  kvDtypeSteps: number;
  kvDtypeAccuracySteps: number;
  specPrompts: number;
  specPassageLen: number;
  specOutputLen: number;
  specBatchSizes: number[];
  specIters: number;
  specQuoteText?: string;
  tokenizer?: string;
  out: string;
  chartsDir?: string;
}

export function benchExperimentsCommand(): Command {
  return addEngineOptions(addBackendOptions(new Command('experiments')))
    .description('reproduce the seed\'s experiments (KV cache, batching, prefix caching, KV-cache dtypes, speculative decoding) as tables and charts in a markdown file')
    .option('-m, --model <model>', 'model folder, .gguf file, Hub id, or preset (with --load-format dummy) ' + MODEL_FLAG_DEFAULT)
    .option('--load-format <format>', `how to read --model: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .option('--only <list>', `experiments to run: ${EXPERIMENTS.join(', ')}`, EXPERIMENTS.join(','))
    .option('--kv-prompt-len <n>', 'prompt tokens (kv-cache)', parseIntArg('--kv-prompt-len'), 32)
    .option('--kv-output-lens <list>', 'output lengths (kv-cache)', parseIdList('--kv-output-lens'), [16, 32, 64, 128])
    .option('--num-prompts <n>', 'requests (batching)', parseIntArg('--num-prompts'), 32)
    .option('--input-len <n>', 'mean prompt tokens (batching)', parseIntArg('--input-len'), 128)
    .option('--output-len <n>', 'mean output tokens (batching)', parseIntArg('--output-len'), 64)
    .option('--range-ratio <r>', 'length spread (batching)', parseFloatArg('--range-ratio'), 0.5)
    .option('--prefix-prompts <n>', 'requests (prefix-caching)', parseIntArg('--prefix-prompts'), 6)
    .option('--prefix-len <n>', 'shared prefix tokens (prefix-caching)', parseIntArg('--prefix-len'), 512)
    .option('--suffix-len <n>', 'own tokens per request (prefix-caching)', parseIntArg('--suffix-len'), 32)
    .option('--prefix-output-len <n>', 'output tokens (prefix-caching)', parseIntArg('--prefix-output-len'), 8)
    .option('--kv-dtype-context <n>', 'context per sequence before the timed steps (kv-dtype)', parseIntArg('--kv-dtype-context'), 2032)
    .option('--kv-dtype-batch <n>', 'sequences decoded together (kv-dtype)', parseIntArg('--kv-dtype-batch'), 8)
    .option('--kv-dtype-steps <n>', 'decode steps per timed iteration (kv-dtype)', parseIntArg('--kv-dtype-steps'), 16)
    .option('--kv-dtype-accuracy-steps <n>', 'greedy tokens compared with f32 KV (kv-dtype)', parseIntArg('--kv-dtype-accuracy-steps'), 64)
    .option('--spec-prompts <n>', 'requests (spec-decode)', parseIntArg('--spec-prompts'), 8)
    .option('--spec-passage-len <n>', 'passage tokens of each quote prompt (spec-decode)', parseIntArg('--spec-passage-len'), 64)
    .option('--spec-output-len <n>', 'tokens generated per request (spec-decode)', parseIntArg('--spec-output-len'), 32)
    .option('--spec-batch-sizes <list>', 'batch sizes (spec-decode)', parseIdList('--spec-batch-sizes'), [1, 8])
    .option('--spec-iters <n>', 'timed iterations (spec-decode)', parseIntArg('--spec-iters'), 2)
    .option('--spec-quote-text <file>', 'a text whose sentences make the quote prompts (spec-decode; default: random token passages)')
    .option('--tokenizer <path>', 'tokenizer folder or llama2.c tokenizer.bin, instead of the model\'s own')
    .option('--out <file>', 'markdown file to write the section into', 'docs/BENCHMARKS.md')
    .option('--charts-dir <dir>', 'where the charts go (default: charts/ beside --out)')
    .action((flags: ExperimentsFlags) => runCommand(() => experiments(withBuiltinModel(flags))));
}

async function experiments(f: ExperimentsFlags & { model: string }): Promise<void> {
  const only = f.only.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((x) => !(EXPERIMENTS as readonly string[]).includes(x));
  if (unknown.length > 0) throw new UsageError(`--only: unknown experiment ${unknown.join(', ')} (choose from ${EXPERIMENTS.join(', ')})`);
  const chartsDir = f.chartsDir ?? path.join(path.dirname(f.out), 'charts');
  const report = await runExperiments({
    engine: engineOptionsFromFlags(f),
    only: only as Experiment[],
    kvPromptLen: f.kvPromptLen,
    kvOutputLens: f.kvOutputLens,
    batching: { numPrompts: f.numPrompts, inputLen: f.inputLen, outputLen: f.outputLen, rangeRatio: f.rangeRatio },
    prefix: { numPrompts: f.prefixPrompts, prefixLen: f.prefixLen, suffixLen: f.suffixLen, outputLen: f.prefixOutputLen },
    kvDtype: { context: f.kvDtypeContext, batchSize: f.kvDtypeBatch, steps: f.kvDtypeSteps, accuracySteps: f.kvDtypeAccuracySteps },
    specDecode: {
      numPrompts: f.specPrompts, passageLen: f.specPassageLen, outputLen: f.specOutputLen, batchSizes: f.specBatchSizes, numIters: f.specIters,
      ...(f.specQuoteText ? { quoteText: fs.readFileSync(f.specQuoteText, 'utf8') } : {}),
    },
    chartsDir,
    chartsLink: path.relative(path.dirname(f.out), chartsDir).split(path.sep).join('/') || '.',
    command: `tsllm ${process.argv.slice(2).join(' ')}`,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const doc = fs.existsSync(f.out) ? fs.readFileSync(f.out, 'utf8') : '# Benchmarks\n';
  fs.mkdirSync(path.dirname(f.out), { recursive: true });
  fs.writeFileSync(f.out, spliceExperiments(doc, report.markdown));
  process.stderr.write(`wrote the experiments into ${f.out}; charts: ${report.charts.join(', ')}\n`);
}
