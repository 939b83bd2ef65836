// tsllm bench serve: a load generator for any OpenAI-compatible server (tsllm, vLLM, llama.cpp's
// server), reporting what serving engines are judged by.

import fs from 'node:fs';
import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { prefixRepetitionDataset, randomDataset, shareGptDataset } from '../bench/datasets.js';
import { prefixCacheUse, readLoad, type PrefixCacheUse } from '../bench/server-load.js';
import { startBackgroundStreams, type BackgroundResult } from '../bench/background-streams.js';
import { runServeBench, type GoodputSlo, type ServeRequest, type ServeResult } from '../bench/serve-bench.js';
import type { Distribution } from '../bench/result-format.js';
import { UsageError } from '../util/errors.js';
import { resolveHubModel } from '../model/hub/hub-download.js';
import { LOAD_FORMATS, loadModel, type LoadFormat } from '../model/load-model.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import { parseFloatArg, parseIntArg, runCommand } from './run-command.js';

interface ServeBenchFlags {
  baseUrl: string;
  model: string;
  servedModelName?: string;
  tokenizer?: string;
  loadFormat: LoadFormat;
  endpoint: 'completions' | 'chat';
  apiKey?: string;
  dataset: 'random' | 'prefix-repetition' | 'sharegpt';
  datasetPath?: string;
  numPrompts: number;
  inputLen: number;
  outputLen: number;
  sharegptOutputLen?: number;
  rangeRatio: number;
  prefixLen: number;
  suffixLen: number;
  numPrefixes: number;
  requestRate: number;
  burstiness: number;
  maxConcurrency?: number;
  warmup: number;
  seed: number;
  backgroundStreams: number;
  backgroundInputLen: number;
  backgroundOutputLen: number;
  metricPercentiles: number[];
  goodput?: GoodputSlo;
  ignoreEos: boolean;
  saveResult?: string;
  json?: boolean;
}

const parseRate = (v: string) => {
  if (v === 'inf') return Infinity;
  const x = Number(v);
  if (!(x > 0)) throw new UsageError(`--request-rate must be a positive number or "inf", got "${v}"`);
  return x;
};
const parsePercentiles = (v: string) => v.split(',').map((p) => {
  const x = Number(p);
  if (!(x > 0 && x < 100)) throw new UsageError(`--metric-percentiles takes numbers between 0 and 100, got "${p}"`);
  return x;
});
/** "ttft:500 tpot:50 e2el:2000" (milliseconds), vLLM's --goodput syntax. */
const parseGoodput = (v: string, prev: GoodputSlo = {}): GoodputSlo => {
  const out = { ...prev };
  for (const part of v.split(/[\s,]+/).filter(Boolean)) {
    const [k, ms] = part.split(':');
    const x = Number(ms);
    if (!(x > 0)) throw new UsageError(`--goodput ${part}: expected NAME:MILLISECONDS`);
    if (k === 'ttft') out.ttftMs = x;
    else if (k === 'tpot') out.tpotMs = x;
    else if (k === 'e2el') out.e2eMs = x;
    else throw new UsageError(`--goodput ${part}: NAME is ttft, tpot or e2el`);
  }
  return out;
};

export function benchServeCommand(): Command {
  return new Command('serve')
    .description('load-test an OpenAI-compatible server (tsllm, vLLM, llama.cpp) with streamed requests')
    .option('--base-url <url>', 'the server', 'http://127.0.0.1:8000')
    .requiredOption('-m, --model <model>', 'the model: its tokenizer builds the prompts, and its name is sent unless --served-model-name')
    .option('--served-model-name <name>', 'the "model" field to send')
    .option('--tokenizer <spec>', 'where to read the tokenizer (default: --model)')
    .option('--load-format <format>', `how to read --tokenizer/--model: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .addOption(new Option('--endpoint <kind>', 'API').choices(['completions', 'chat']).default('completions'))
    .option('--api-key <key>', 'bearer token (default: $OPENAI_API_KEY)')
    .addOption(new Option('--dataset <name>', 'prompts').choices(['random', 'prefix-repetition', 'sharegpt']).default('random'))
    .option('--dataset-path <file>', 'ShareGPT JSON (sharegpt)')
    .option('--num-prompts <n>', 'requests', parseIntArg('--num-prompts'), 100)
    .option('--input-len <n>', 'prompt tokens (random)', parseIntArg('--input-len'), 256)
    .option('--output-len <n>', 'tokens per request (random, prefix-repetition)', parseIntArg('--output-len'), 128)
    .option('--sharegpt-output-len <n>', 'tokens per request instead of the replies\' lengths (sharegpt)', parseIntArg('--sharegpt-output-len'))
    .option('--range-ratio <r>', 'lengths drawn within +-r (random)', parseFloatArg('--range-ratio'), 0)
    .option('--prefix-len <n>', 'shared prefix tokens (prefix-repetition)', parseIntArg('--prefix-len'), 512)
    .option('--suffix-len <n>', 'suffix tokens (prefix-repetition)', parseIntArg('--suffix-len'), 64)
    .option('--num-prefixes <n>', 'distinct prefixes (prefix-repetition)', parseIntArg('--num-prefixes'), 4)
    .option('--request-rate <r>', 'requests/s, Poisson arrivals; "inf" sends all at once', parseRate, Infinity)
    .option('--burstiness <b>', 'gamma shape of the gaps: 1 = Poisson, < 1 burstier, > 1 more regular', parseFloatArg('--burstiness'), 1)
    .option('--max-concurrency <n>', 'most requests in flight', parseIntArg('--max-concurrency'))
    .option('--warmup <n>', 'requests sent first and not counted', parseIntArg('--warmup'), 0)
    .option('--seed <n>', 'dataset and arrival seed', parseIntArg('--seed'), 0)
    .option('--background-streams <n>', 'streams kept decoding through the run, started first; their inter-token gaps are reported apart', parseIntArg('--background-streams'), 0)
    .option('--background-input-len <n>', 'prompt tokens of a background stream', parseIntArg('--background-input-len'), 32)
    .option('--background-output-len <n>', 'tokens per background request (each client sends another when one ends)', parseIntArg('--background-output-len'), 256)
    .option('--metric-percentiles <list>', 'percentiles to report besides p50/p90/p99, e.g. 25,75,95', parsePercentiles, [] as number[])
    .option('--goodput <slo>', 'SLOs in ms, e.g. "ttft:500 tpot:50 e2el:5000"', parseGoodput)
    .option('--no-ignore-eos', 'let requests stop at EOS (by default they run to their output length)')
    .option('--save-result <file>', 'write the result as JSON')
    .option('--json', 'print the result as JSON')
    .action((flags: ServeBenchFlags) => runCommand(() => benchServe(flags)));
}

async function tokenizerFor(f: ServeBenchFlags): Promise<Tokenizer> {
  const spec = f.tokenizer ?? f.model;
  let t: Tokenizer | null;
  try {
    t = (await loadModel(spec, { loadFormat: f.loadFormat, resolveHubId: resolveHubModel })).tokenizer;
  } catch (e) {
    throw new UsageError(`cannot read a tokenizer from ${spec} (${(e as Error).message}); pass --tokenizer`);
  }
  if (!t) throw new UsageError(`${spec} has no tokenizer; pass --tokenizer`);
  return t;
}

async function benchServe(f: ServeBenchFlags): Promise<void> {
  if (f.numPrompts < 1) throw new UsageError('--num-prompts must be at least 1');
  if (f.rangeRatio < 0 || f.rangeRatio >= 1) throw new UsageError('--range-ratio must be in [0, 1)');
  const tok = await tokenizerFor(f);
  const asPrompt = (ids: number[]): string | number[] => (f.endpoint === 'chat' ? tok.decode(ids, { skipSpecialTokens: true }) : ids);
  const build = (n: number, seed: number): ServeRequest[] => {
    if (f.dataset === 'sharegpt') {
      if (!f.datasetPath) throw new UsageError('--dataset sharegpt needs --dataset-path');
      return shareGptDataset(f.datasetPath, tok, n, seed, f.sharegptOutputLen).map((r) => ({ prompt: r.prompt, outputLen: r.outputLen }));
    }
    const set = f.dataset === 'random'
      ? randomDataset({ numPrompts: n, inputLen: f.inputLen, outputLen: f.outputLen, rangeRatio: f.rangeRatio, vocabSize: tok.vocabSize, seed })
      : prefixRepetitionDataset({ numPrompts: n, prefixLen: f.prefixLen, suffixLen: f.suffixLen, numPrefixes: f.numPrefixes, outputLen: f.outputLen, vocabSize: tok.vocabSize, seed });
    return set.map((r) => ({ prompt: asPrompt(r.promptIds), outputLen: r.outputLen }));
  };
  const requests = build(f.numPrompts, f.seed);
  const warmup = f.warmup > 0 ? build(f.warmup, f.seed + 1) : [];
  const apiKey = f.apiKey ?? process.env['OPENAI_API_KEY'];

  const model = f.servedModelName ?? f.model;
  const background = f.backgroundStreams > 0
    ? startBackgroundStreams(f.backgroundStreams, {
      baseUrl: f.baseUrl, endpoint: f.endpoint, model, maxTokens: f.backgroundOutputLen, ...(apiKey ? { apiKey } : {}), extra: { ignore_eos: true },
      prompt: asPrompt(randomDataset({ numPrompts: 1, inputLen: f.backgroundInputLen, outputLen: 1, rangeRatio: 0, vocabSize: tok.vocabSize, seed: f.seed + 2 })[0]!.promptIds),
    }, f.metricPercentiles)
    : null;
  await background?.ready;
  const loadBefore = await readLoad(f.baseUrl);
  const bar = f.json ? null : new SingleBar({ format: '  [{bar}] {value}/{total} requests', stream: process.stderr, hideCursor: true });
  bar?.start(requests.length, 0);
  const result = await runServeBench({
    baseUrl: f.baseUrl, endpoint: f.endpoint, model, ...(apiKey ? { apiKey } : {}),
    requests, warmup, requestRate: f.requestRate, burstiness: f.burstiness, ...(f.maxConcurrency ? { maxConcurrency: f.maxConcurrency } : {}),
    seed: f.seed, percentiles: f.metricPercentiles, ...(f.goodput ? { goodput: f.goodput } : {}),
    ...(f.ignoreEos ? { extra: { ignore_eos: true } } : {}),
    onDone: (n) => bar?.update(n),
  });
  bar?.stop();
  const prefixCache = prefixCacheUse(loadBefore, await readLoad(f.baseUrl));
  const backgroundResult = (await background?.stop()) ?? null;
  const summary = { baseUrl: f.baseUrl, endpoint: f.endpoint, dataset: f.dataset, requestRate: f.requestRate, burstiness: f.burstiness, maxConcurrency: f.maxConcurrency ?? null, ...result, prefixCache, background: backgroundResult };
  if (f.saveResult) fs.writeFileSync(f.saveResult, JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(f.json ? JSON.stringify(summary, null, 2) + '\n' : formatServeResult(result, prefixCache, backgroundResult));
  if (result.failed * 2 > result.numRequests) {
    process.stderr.write(`tsllm: error: ${result.failed} of ${result.numRequests} requests failed: ${result.errors.join('; ')}\n`);
    process.exitCode = 1;
  }
}

export function formatServeResult(r: ServeResult, prefixCache: PrefixCacheUse | null = null, background: BackgroundResult | null = null): string {
  const line = (name: string, d: Distribution) => {
    const extra = Object.entries(d.percentiles ?? {}).map(([k, v]) => `, ${k} ${v.toFixed(2)}`).join('');
    return `${name.padEnd(20)} mean ${d.mean.toFixed(2)}, median ${d.median.toFixed(2)}, p90 ${d.p90.toFixed(2)}, p99 ${d.p99.toFixed(2)}${extra}`;
  };
  return [
    `successful requests: ${r.completed} of ${r.numRequests} (${r.failed} failed)`,
    `duration:            ${r.elapsedSeconds.toFixed(2)} s`,
    `request throughput:  ${r.requestsPerSecond.toFixed(3)} req/s${r.goodput !== undefined ? `, goodput ${r.goodput.toFixed(3)} req/s` : ''}`,
    `token throughput:    ${r.inputTokensPerSecond.toFixed(1)} input, ${r.outputTokensPerSecond.toFixed(1)} output, ${r.totalTokensPerSecond.toFixed(1)} total tok/s`,
    `tokens:              ${r.totalInputTokens} input, ${r.totalOutputTokens} output`,
    line('TTFT (ms):', r.ttftMs),
    line('TPOT (ms):', r.tpotMs),
    line('ITL (ms):', r.itlMs),
    line('E2E latency (ms):', r.e2eMs),
    ...(background ? [line(`background ITL (ms):`, background.itlMs), `background streams:  ${background.streams}, ${background.outputTokens} tokens, ${background.outputTokensPerSecond.toFixed(1)} tok/s`] : []),
    ...(prefixCache ? [`prefix cache:        hit rate ${prefixCache.hitRate.toFixed(3)} (${prefixCache.hitTokens} of ${prefixCache.queriedTokens} prompt tokens, from the server's /load)`] : []),
    ...(r.errors.length ? [`errors:              ${r.errors.join('; ')}`] : []),
  ].join('\n') + '\n';
}
