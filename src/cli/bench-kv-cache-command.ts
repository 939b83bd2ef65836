// tsllm bench kv-cache: per KV-cache dtype, the capacity at a budget and decode speed at a long context
// (src/bench/kv-cache-bench.ts); with --accuracy, what each dtype costs against float32 KV
// (src/bench/kv-accuracy.ts).

import { Command } from 'commander';
import { loadModel, LOAD_FORMATS, type LoadFormat } from '../model/load-model.js';
import { UsageError } from '../util/errors.js';
import { resolveHubModel } from '../model/hub/hub-download.js';
import { KV_CACHE_DTYPES, type KVCacheDType } from '../kernels/kv-cache-dtype.js';
import { benchKVCache, type KVCacheBenchRow } from '../bench/kv-cache-bench.js';
import { kvAccuracy, type KVAccuracyResult } from '../bench/kv-accuracy.js';
import { addBackendOptions, backendFromFlags, quantizeFlag, type BackendFlags } from './backend-options.js';
import { parseBytes } from './engine-flags.js';
import { collect, parseIdList, parseIntArg, runCommand } from './run-command.js';
import { printTable } from './table.js';
import { MODEL_FLAG_DEFAULT, withBuiltinModel } from './builtin-model.js';
import { causalLMWithProgress } from './load-progress.js';

interface KVCacheFlags extends BackendFlags {
  model?: string;
  loadFormat: LoadFormat;
  tokenizer?: string;
  dtypes: KVCacheDType[];
  context: number;
  batchSize: number;
  steps: number;
  numIters: number;
  kvCacheMemory: number;
  accuracy?: boolean;
  prompt?: string[];
  promptIds?: number[][];
  json?: boolean;
}

function parseDtypes(v: string): KVCacheDType[] {
  const list = v === 'all' ? [...KV_CACHE_DTYPES] : v.split(',').map((s) => s.trim());
  const bad = list.find((d) => !(KV_CACHE_DTYPES as readonly string[]).includes(d));
  if (bad !== undefined) throw new UsageError(`--dtypes: '${bad}' is not one of ${KV_CACHE_DTYPES.join(', ')}`);
  return list as KVCacheDType[];
}

export function benchKVCacheCommand(): Command {
  return addBackendOptions(new Command('kv-cache'))
    .description('each KV-cache dtype: sequences that fit a budget and decode tokens/s at a long context; --accuracy: its cost against f32 KV')
    .option('-m, --model <model>', 'model folder, .gguf file, llama2.c .bin or Hub id ' + MODEL_FLAG_DEFAULT)
    .option('--load-format <format>', `how to read --model: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .option('--tokenizer <path>', 'tokenizer folder or llama2.c tokenizer.bin, instead of the model\'s own')
    .option('--dtypes <list>', 'comma-separated KV dtypes, or all', (v: string) => parseDtypes(v), [...KV_CACHE_DTYPES])
    .option('--context <n>', 'tokens of context per sequence before the timed steps; capacity counts sequences of context + steps', parseIntArg('--context'), 2032)
    .option('--batch-size <n>', 'sequences decoded together', parseIntArg('--batch-size'), 8)
    .option('--steps <n>', 'decode steps per timed iteration (speed); greedy tokens compared (accuracy)', parseIntArg('--steps'), 16)
    .option('--num-iters <n>', 'timed iterations per dtype, interleaved', parseIntArg('--num-iters'), 3)
    .option('--kv-cache-memory <size>', 'budget for the capacity column', parseBytes, 4 * 2 ** 30)
    .option('--accuracy', 'measure accuracy against f32 KV instead of speed')
    .option('-p, --prompt <text>', 'accuracy prompt (repeatable; default: BOS alone)', collect)
    .option('--prompt-ids <ids>', 'accuracy prompt as comma-separated token ids (repeatable)', (v: string, prev: number[][] = []) => [...prev, parseIdList('--prompt-ids')(v)])
    .option('--json', 'print the results as JSON')
    .action((flags: KVCacheFlags) => runCommand(() => kvCache(withBuiltinModel(flags))));
}

async function kvCache(f: KVCacheFlags & { model: string }): Promise<void> {
  for (const [name, v] of [['--context', f.context], ['--batch-size', f.batchSize], ['--steps', f.steps], ['--num-iters', f.numIters]] as const) {
    if (v < 1) throw new UsageError(`${name} must be at least 1`);
  }
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const backend = backendFromFlags(f);
  const loaded = await loadModel(f.model, {
    loadFormat: f.loadFormat, resolveHubId: resolveHubModel, ...(f.tokenizer ? { tokenizer: f.tokenizer } : {}), ...quantizeFlag(f, backend),
  });
  const model = causalLMWithProgress(loaded.config, loaded.weights, backend);

  if (f.accuracy) {
    const prompts = [...(f.promptIds ?? []), ...(f.prompt ?? []).map((p) => {
      if (!loaded.tokenizer) throw new UsageError('--prompt needs a tokenizer; give --prompt-ids or --tokenizer');
      return loaded.tokenizer.encode(p);
    })];
    if (prompts.length === 0) {
      const bos = loaded.tokenizer?.bosTokenId ?? loaded.config.bosTokenId;
      if (bos === null) throw new UsageError('this model has no BOS token: give --prompt or --prompt-ids');
      prompts.push([bos]);
    }
    if (prompts.some((p) => p.length + f.steps > loaded.config.maxPositions)) throw new UsageError(`a prompt plus ${f.steps} steps exceeds the model's context of ${loaded.config.maxPositions}`);
    log(`bench kv-cache --accuracy: ${loaded.source}, ${prompts.length} prompt(s), ${f.steps} greedy tokens each, against f32 KV`);
    const r = kvAccuracy(model, prompts, f.steps, f.dtypes);
    if (f.json) process.stdout.write(JSON.stringify({ model: loaded.source, ...r }, null, 2) + '\n');
    else printAccuracy(r);
    return;
  }

  if (f.context + f.steps > loaded.config.maxPositions) {
    throw new UsageError(`--context ${f.context} plus ${f.steps} steps exceeds the model's context of ${loaded.config.maxPositions}`);
  }
  log(`bench kv-cache: ${loaded.source}, batch ${f.batchSize} at ${f.context} tokens of context, ${f.steps} decode steps x ${f.numIters} iterations per dtype`);
  const rows = benchKVCache(model, {
    dtypes: f.dtypes, context: f.context, batchSize: f.batchSize, steps: f.steps, numIters: f.numIters, kvCacheMemory: f.kvCacheMemory,
  }, (dtype, tps) => log(`  ${dtype}: ${tps.toFixed(2)} tok/s`));
  if (f.json) {
    process.stdout.write(JSON.stringify({ model: loaded.source, context: f.context, batchSize: f.batchSize, kvCacheMemory: f.kvCacheMemory, rows }, null, 2) + '\n');
    return;
  }
  printSpeed(rows, f);
}

function printSpeed(rows: KVCacheBenchRow[], f: KVCacheFlags): void {
  const base = rows.find((r) => r.dtype === 'f16') ?? rows[0]!;
  printTable(
    ['kv dtype', 'bytes/token', `${f.context + f.steps}-token seqs in ${(f.kvCacheMemory / 2 ** 30).toFixed(1)} GiB`, `vs ${base.dtype}`,
      `decode tok/s (batch ${f.batchSize})`, `vs ${base.dtype}`, 'attention ms/step', `vs ${base.dtype}`],
    rows.map((r) => [
      r.dtype, String(r.bytesPerToken), String(r.sequencesThatFit), `${(r.sequencesThatFit / base.sequencesThatFit).toFixed(2)}x`,
      r.decodeTokensPerSecond.toFixed(2), `${(r.decodeTokensPerSecond / base.decodeTokensPerSecond).toFixed(2)}x`,
      r.attentionMsPerStep.toFixed(1), `${(r.attentionMsPerStep / base.attentionMsPerStep).toFixed(2)}x`,
    ]),
  );
}

function printAccuracy(r: KVAccuracyResult): void {
  printTable(
    ['kv dtype', 'max |Δlogit|', 'mean KL', `greedy agreement (${r.steps} tokens)`, 'mean NLL', 'free-running: agreement', 'first divergence'],
    r.rows.map((x) => [
      x.dtype, x.maxAbsLogitDiff.toExponential(2), x.meanKL.toExponential(2), `${(x.greedyAgreement * 100).toFixed(1)}%`,
      x.meanNLL.toFixed(4), `${(x.freeRunAgreement * 100).toFixed(1)}%`, x.firstDivergence.join(','),
    ]),
  );
}
