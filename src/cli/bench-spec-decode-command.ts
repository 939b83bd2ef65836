// tsllm bench spec-decode: plain against speculative decoding on the same requests, at each batch size
// (src/bench/spec-decode-bench.ts).

import fs from 'node:fs';
import { Command, Option } from 'commander';
import { loadModel, LOAD_FORMATS, type LoadFormat } from '../model/load-model.js';
import { UsageError } from '../util/errors.js';
import { resolveHubModel } from '../model/hub/hub-download.js';
import { quoteDataset, randomDataset } from '../bench/datasets.js';
import { benchSpecDecode } from '../bench/spec-decode-bench.js';
import { addBackendOptions, backendFromFlags, quantizeFlag, type BackendFlags } from './backend-options.js';
import { addEngineOptions, engineConfigFromFlags, type EngineFlags } from './engine-flags.js';
import { parseFloatArg, parseIdList, parseIntArg, runCommand } from './run-command.js';
import { printTable } from './table.js';
import { MODEL_FLAG_DEFAULT, withBuiltinModel } from './builtin-model.js';
import { causalLMWithProgress } from './load-progress.js';
import type { CausalLM } from '../model/architectures/decoder.js';

interface SpecFlags extends BackendFlags, EngineFlags {
  model?: string;
  loadFormat: LoadFormat;
  tokenizer?: string;
  selfDraft?: boolean;
  dataset: 'quote' | 'random';
  quoteText?: string;
  quoteSentences: number;
  numPrompts: number;
  inputLen: number;
  outputLen: number;
  batchSizes: number[];
  numIters: number;
  temperature: number;
  seed: number;
  json?: boolean;
}

export function benchSpecDecodeCommand(): Command {
  return addEngineOptions(addBackendOptions(new Command('spec-decode')))
    .description('plain against speculative decoding (the engine flags --speculative-*), same requests, at each batch size')
    .option('-m, --model <model>', 'model folder, .gguf file, llama2.c .bin, Hub id, or preset (with --load-format dummy) ' + MODEL_FLAG_DEFAULT)
    .option('--load-format <format>', `how to read --model: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .option('--tokenizer <path>', 'tokenizer folder or llama2.c tokenizer.bin, instead of the model\'s own')
    .option('--self-draft', 'the target is its own draft model: every draft is accepted, the ceiling of what verification buys')
    .addOption(new Option('--dataset <name>', 'quote: passages to continue by quoting (repetitive); random: random prompts').choices(['quote', 'random']).default('quote'))
    .option('--quote-text <file>', 'quote: a text whose sentences make the passages (default: random token passages of --input-len)')
    .option('--quote-sentences <n>', 'quote: sentences per passage', parseIntArg('--quote-sentences'), 4)
    .option('--num-prompts <n>', 'requests per iteration', parseIntArg('--num-prompts'), 16)
    .option('--input-len <n>', 'prompt tokens (random) or passage tokens (quote without a text)', parseIntArg('--input-len'), 128)
    .option('--output-len <n>', 'tokens generated per request (EOS ignored)', parseIntArg('--output-len'), 64)
    .option('--batch-sizes <list>', 'requests in flight at once, compared one by one', parseIdList('--batch-sizes'), [1, 8])
    .option('--num-iters <n>', 'timed iterations of each, alternating', parseIntArg('--num-iters'), 3)
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', parseFloatArg('--temperature'), 0)
    .option('--seed <n>', 'dataset seed', parseIntArg('--seed'), 0)
    .option('--json', 'print the results as JSON')
    .action((flags: SpecFlags) => runCommand(() => specDecode(withBuiltinModel(flags))));
}

async function specDecode(f: SpecFlags & { model: string }): Promise<void> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const cfg = engineConfigFromFlags(f);
  if (!cfg.speculativeMethod && !cfg.speculativeModel && !f.selfDraft) throw new UsageError('give --speculative-method, --speculative-model or --self-draft');
  const backend = backendFromFlags(f);
  const loaded = await loadModel(f.model, {
    loadFormat: f.loadFormat, resolveHubId: resolveHubModel, ...(f.tokenizer ? { tokenizer: f.tokenizer } : {}), ...quantizeFlag(f, backend),
  });
  const model = causalLMWithProgress(loaded.config, loaded.weights, backend);
  let draft: CausalLM | undefined;
  if (f.selfDraft) {
    draft = model;
    cfg.speculativeModel = f.model;
  } else if (cfg.speculativeModel) {
    const d = await loadModel(cfg.speculativeModel, { ...(f.loadFormat === 'dummy' ? { loadFormat: 'dummy' as const } : {}), resolveHubId: resolveHubModel });
    draft = causalLMWithProgress(d.config, d.weights, model.backend, 'draft');
  }
  const { speculativeMethod, speculativeModel, numSpeculativeTokens, promptLookupMin, promptLookupMax, draftLayers, ...engine } = cfg;
  const speculative = { speculativeMethod, speculativeModel, numSpeculativeTokens, promptLookupMin, promptLookupMax, draftLayers };
  let text;
  if (f.quoteText) {
    if (!loaded.tokenizer) throw new UsageError('--quote-text needs a model with a tokenizer (or --tokenizer)');
    text = { content: fs.readFileSync(f.quoteText, 'utf8'), tokenizer: loaded.tokenizer, sentences: f.quoteSentences };
  }
  const vocabSize = loaded.config.vocabSize;
  const requests = f.dataset === 'quote'
    ? quoteDataset({ numPrompts: f.numPrompts, outputLen: f.outputLen, seed: f.seed, passageLen: f.inputLen, vocabSize, ...(text ? { text } : {}) })
    : randomDataset({ numPrompts: f.numPrompts, inputLen: f.inputLen, outputLen: f.outputLen, rangeRatio: 0, vocabSize, seed: f.seed });
  log(`bench spec-decode: ${loaded.source}, ${f.dataset} dataset, ${requests.length} requests of ${f.outputLen} tokens, batch sizes ${f.batchSizes.join(', ')}`);
  const rows = benchSpecDecode(model, loaded.tokenizer, requests, {
    engine, speculative: Object.fromEntries(Object.entries(speculative).filter(([, v]) => v !== undefined)), ...(draft ? { draft } : {}),
    batchSizes: f.batchSizes, numIters: f.numIters, temperature: f.temperature,
  }, log);
  if (f.json) {
    process.stdout.write(JSON.stringify({ model: loaded.source, dataset: f.dataset, rows }, null, 2) + '\n');
    return;
  }
  printTable(
    ['batch', 'plain tok/s', 'speculative tok/s', 'speed-up', 'without drafting', 'steps plain', 'steps spec', 'mean acceptance length', 'acceptance', 'by position'],
    rows.map((r) => [
      String(r.batchSize), r.plainTokensPerSecond.toFixed(1), r.specTokensPerSecond.toFixed(1), `${r.speedup.toFixed(2)}x`, `${r.speedupExcludingDrafting.toFixed(2)}x`, String(r.plainSteps), String(r.specSteps),
      r.spec.meanAcceptanceLength.toFixed(2), `${(r.spec.acceptanceRate * 100).toFixed(1)}%`, r.spec.acceptedPerPosition.map((x) => `${(x * 100).toFixed(0)}%`).join(' '),
    ]),
  );
}
