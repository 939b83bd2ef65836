// tsllm bench throughput: a whole request set through the engine, reporting requests/s, tokens/s,
// TTFT/TPOT percentiles, preemptions and prefix-cache hits. --scheduler compares continuous batching
// with static batches and with one request at a time.

import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { AsyncEngine } from '../engine/async-engine.js';
import { UsageError } from '../util/errors.js';
import type { StructuredOutputs } from '../engine/structured/structured-outputs.js';
import { LOAD_FORMATS, type LoadFormat } from '../model/load-model.js';
import fs from 'node:fs';
import { prefixRepetitionDataset, quoteDataset, randomDataset, type BenchRequest } from '../bench/datasets.js';
import type { Distribution } from '../bench/result-format.js';
import { benchThroughput } from '../bench/throughput.js';
import { addBackendOptions, type BackendFlags } from './backend-options.js';
import { addEngineOptions, engineOptionsFromFlags, type EngineFlags } from './engine-flags.js';
import { parseFloatArg, parseIntArg, runCommand } from './run-command.js';
import { MODEL_FLAG_DEFAULT, withBuiltinModel } from './builtin-model.js';

const SCHEDULERS = ['continuous', 'static', 'sequential'] as const;

interface ThroughputFlags extends BackendFlags, EngineFlags {
  model?: string;
  loadFormat: LoadFormat;
  tokenizer?: string;
  scheduler: (typeof SCHEDULERS)[number];
  dataset: 'random' | 'prefix-repetition' | 'quote';
  quoteText?: string;
  quoteSentences: number;
  numPrompts: number;
  inputLen: number;
  outputLen: number;
  rangeRatio: number;
  prefixLen: number;
  suffixLen: number;
  numPrefixes: number;
  maxConcurrency?: number;
  seed: number;
  temperature: number;
  topP: number;
  topK: number;
  jsonSchema?: string;
  json?: boolean;
}

export function benchThroughputCommand(): Command {
  return addEngineOptions(addBackendOptions(new Command('throughput')))
    .description('offline throughput of the engine on a synthetic request set')
    .option('-m, --model <model>', 'model folder, .gguf file, Hub id, or preset (with --load-format dummy) ' + MODEL_FLAG_DEFAULT)
    .option('--load-format <format>', `how to read --model: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .option('--tokenizer <path>', 'tokenizer folder or llama2.c tokenizer.bin, instead of the model\'s own')
    .addOption(new Option('--scheduler <kind>', 'continuous batching, static padded batches, or one request at a time').choices(SCHEDULERS).default('continuous'))
    .addOption(new Option('--dataset <name>', 'random prompts, shared prefixes with short suffixes, or passages to quote on').choices(['random', 'prefix-repetition', 'quote']).default('random'))
    .option('--quote-text <file>', 'quote: a text whose sentences make the passages (default: random token passages of --input-len)')
    .option('--quote-sentences <n>', 'quote: sentences per passage', parseIntArg('--quote-sentences'), 4)
    .option('--num-prompts <n>', 'requests', parseIntArg('--num-prompts'), 64)
    .option('--input-len <n>', 'prompt tokens (random)', parseIntArg('--input-len'), 256)
    .option('--output-len <n>', 'tokens generated per request (EOS ignored)', parseIntArg('--output-len'), 128)
    .option('--range-ratio <r>', 'draw lengths from [len x (1 - r), len x (1 + r)] (random)', parseFloatArg('--range-ratio'), 0)
    .option('--prefix-len <n>', 'shared prefix tokens (prefix-repetition)', parseIntArg('--prefix-len'), 1024)
    .option('--suffix-len <n>', 'distinct suffix tokens (prefix-repetition)', parseIntArg('--suffix-len'), 32)
    .option('--num-prefixes <n>', 'distinct prefixes (prefix-repetition)', parseIntArg('--num-prefixes'), 1)
    .option('--max-concurrency <n>', 'requests in flight at once (default: all)', parseIntArg('--max-concurrency'))
    .option('--seed <n>', 'dataset seed', parseIntArg('--seed'), 0)
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', parseFloatArg('--temperature'), 0)
    .option('--top-p <p>', 'nucleus sampling', parseFloatArg('--top-p'), 1)
    .option('--top-k <k>', 'top-k sampling (0 = off)', parseIntArg('--top-k'), 0)
    .option('--json-schema <file>', 'constrain every output to this JSON schema (structured outputs; what the grammar costs)')
    .option('--json', 'print the result as JSON')
    .action((flags: ThroughputFlags) => runCommand(() => throughput(withBuiltinModel(flags))));
}

async function throughput(f: ThroughputFlags & { model: string }): Promise<void> {
  if (f.rangeRatio < 0 || f.rangeRatio >= 1) throw new UsageError('--range-ratio must be in [0, 1)');
  if (f.maxConcurrency !== undefined && f.maxConcurrency < 1) throw new UsageError('--max-concurrency must be at least 1');
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const engine = await AsyncEngine.start({
    ...engineOptionsFromFlags(f),
    ...(f.scheduler === 'sequential' ? { maxNumSeqs: 1 } : {}),
    scheduler: f.scheduler === 'static' ? 'static' : 'continuous',
  }, log);
  try {
    const info = engine.info;
    const vocabSize = info.model.vocabSize;
    const quoteText = () => {
      if (!f.quoteText) return undefined;
      if (!engine.tokenizer) throw new UsageError('--quote-text needs a model with a tokenizer');
      return { content: fs.readFileSync(f.quoteText, 'utf8'), tokenizer: engine.tokenizer, sentences: f.quoteSentences };
    };
    const requests: BenchRequest[] =
      f.dataset === 'random'
        ? randomDataset({ numPrompts: f.numPrompts, inputLen: f.inputLen, outputLen: f.outputLen, rangeRatio: f.rangeRatio, vocabSize, seed: f.seed })
        : f.dataset === 'quote'
          ? quoteDataset({ numPrompts: f.numPrompts, outputLen: f.outputLen, seed: f.seed, passageLen: f.inputLen, vocabSize, ...(f.quoteText ? { text: quoteText()! } : {}) })
          : prefixRepetitionDataset({ numPrompts: f.numPrompts, prefixLen: f.prefixLen, suffixLen: f.suffixLen, numPrefixes: f.numPrefixes, outputLen: f.outputLen, vocabSize, seed: f.seed });
    log(`bench throughput: scheduler ${f.scheduler}, prefix caching ${info.config.enablePrefixCaching ? 'on' : 'off'}, ${requests.length} requests`);
    const bar = f.json ? null : new SingleBar({ format: '  [{bar}] {value}/{total} requests', stream: process.stderr, hideCursor: true });
    bar?.start(requests.length, 0);
    const result = await benchThroughput(engine, requests, { ...(f.maxConcurrency ? { maxConcurrency: f.maxConcurrency } : {}), onDone: (n) => bar?.update(n), sampling: { temperature: f.temperature, topP: f.topP, topK: f.topK, seed: f.seed, ...(f.jsonSchema ? { structuredOutputs: readSchema(f.jsonSchema) } : {}) } });
    bar?.stop();
    const summary = { model: info.source, backend: info.backend, scheduler: f.scheduler, dataset: f.dataset, engineConfig: info.config, ...result };
    if (f.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      return;
    }
    const ms = (d: Distribution) => `mean ${d.mean.toFixed(0)}, median ${d.median.toFixed(0)}, p90 ${d.p90.toFixed(0)}, p99 ${d.p99.toFixed(0)}`;
    process.stdout.write(
      [
        `requests:          ${result.numRequests} in ${result.elapsedSeconds.toFixed(1)} s`,
        `throughput:        ${result.requestsPerSecond.toFixed(3)} requests/s, ${result.totalTokensPerSecond.toFixed(1)} total tokens/s, ${result.outputTokensPerSecond.toFixed(1)} output tokens/s`,
        `tokens:            ${result.totalInputTokens} prompt, ${result.totalOutputTokens} generated`,
        `TTFT (ms):         ${ms(result.ttftMs)}`,
        `TPOT (ms):         ${ms(result.tpotMs)}`,
        `latency (ms):      ${ms(result.e2eMs)}`,
        `preemptions:       ${result.numPreemptions}`,
        `prefix cache hits: ${(result.prefixCacheHitRate * 100).toFixed(1)}% of prompt tokens`,
        ...(result.specDecode ? [
          `speculative:       ${info.config.speculative!.method}, mean acceptance length ${result.specDecode.meanAcceptanceLength.toFixed(2)}, ` +
            `${(result.specDecode.acceptanceRate * 100).toFixed(1)}% of ${result.specDecode.numDraftTokens} draft tokens accepted, ` +
            `by position ${result.specDecode.acceptedPerPosition.map((x) => `${(x * 100).toFixed(0)}%`).join(' ')}`,
        ] : []),
      ].join('\n') + '\n',
    );
  } finally {
    await engine.close();
  }
}

function readSchema(file: string): StructuredOutputs {
  try {
    return { type: 'json', schema: JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown> };
  } catch (e) {
    throw new UsageError(`--json-schema ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not valid JSON'}`);
  }
}
