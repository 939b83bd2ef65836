// The seed's experiments, reproduced on one model and written up as markdown tables and charts:
// the KV cache on against off (tokens/s against output length), static against continuous batching
// (and one request at a time), prefix caching on against off (TTFT on a shared prefix), the
// KV-cache dtypes (capacity, decode speed and accuracy against f32 KV), and speculative decoding
// (n-gram on a quoting workload, the target as its own draft, a layer-skip draft) against plain decoding.

import os from 'node:os';
import path from 'node:path';
import { AsyncEngine } from '../engine/async-engine.js';
import type { EngineOptions } from '../engine/engine-options.js';
import { makeSamplingParams } from '../engine/sampling/sampling-params.js';
import { EngineCore } from '../engine/engine-core.js';
import { resolveEngineConfig } from '../engine/engine-config.js';
import { runToEnd } from '../engine/run-to-end.js';
import { createBackend, physicalCores } from '../kernels/create-backend.js';
import { CausalLM } from '../model/architectures/decoder.js';
import { UsageError } from '../util/errors.js';
import { resolveHubModel } from '../model/hub/hub-download.js';
import { loadModel } from '../model/load-model.js';
import { barChart, lineChart, writeChart } from './charts.js';
import { prefixRepetitionDataset, quoteDataset, randomDataset } from './datasets.js';
import { benchPrompts } from './latency.js';
import { kvAccuracy } from './kv-accuracy.js';
import { benchKVCache } from './kv-cache-bench.js';
import { benchSpecDecode } from './spec-decode-bench.js';
import type { EngineConfigInput } from '../engine/engine-config.js';
import { KV_CACHE_DTYPES } from '../kernels/kv-cache-dtype.js';
import { benchThroughput, type ThroughputResult } from './throughput.js';

export const EXPERIMENTS = ['kv-cache', 'batching', 'prefix-caching', 'kv-dtype', 'spec-decode'] as const;
export type Experiment = (typeof EXPERIMENTS)[number];

export interface ExperimentOptions {
  engine: EngineOptions;
  only: readonly Experiment[];
  kvPromptLen: number;
  kvOutputLens: number[];
  batching: { numPrompts: number; inputLen: number; outputLen: number; rangeRatio: number };
  prefix: { numPrompts: number; prefixLen: number; suffixLen: number; outputLen: number };
  kvDtype: { context: number; batchSize: number; steps: number; accuracySteps: number };
  /** quoteText: sentences for the quote prompts (else random token passages of passageLen). */
  specDecode: { numPrompts: number; passageLen: number; outputLen: number; batchSizes: number[]; numIters: number; quoteText?: string };
  /** Where chart files go, and how the markdown links them (relative to the document). */
  chartsDir: string;
  chartsLink: string;
  /** The command line, quoted in the report. */
  command: string;
  log: (line: string) => void;
}

export interface ExperimentReport {
  markdown: string;
  charts: string[];
}

export function machineDescription(): string {
  return `${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${physicalCores()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}`;
}

export async function runExperiments(o: ExperimentOptions): Promise<ExperimentReport> {
  const charts: string[] = [];
  const sections: string[] = [];
  const chart = async (spec: Parameters<typeof writeChart>[0], name: string) => {
    const files = await writeChart(spec, path.join(o.chartsDir, name));
    charts.push(files.svg, files.png);
    return `![${name}](${o.chartsLink}/${name}.svg)`;
  };

  const loadOffline = async () => {
    const backend = createBackend({ ...(o.engine.backend ? { backend: o.engine.backend } : {}), ...(o.engine.threads ? { threads: o.engine.threads } : {}) });
    const loaded = await loadModel(o.engine.model, {
      ...(o.engine.loadFormat ? { loadFormat: o.engine.loadFormat } : {}), resolveHubId: resolveHubModel,
      ...(o.engine.quantization ? { quantization: { format: o.engine.quantization, backend } } : {}), ...(o.engine.tokenizer ? { tokenizer: o.engine.tokenizer } : {}),
    });
    const model = new CausalLM(loaded.config, loaded.weights, backend);
    return { loaded, model };
  };

  if (o.only.includes('kv-cache')) {
    o.log('experiment: KV cache on against off');
    const { loaded, model } = await loadOffline();
    const prompt = benchPrompts(loaded.config.vocabSize, o.kvPromptLen, 1)[0]!;
    const rows: { outputLen: number; on: number; off: number }[] = [];
    for (const outputLen of o.kvOutputLens) {
      const params = makeSamplingParams({ temperature: 0, maxTokens: outputLen, ignoreEos: true });
      // One request through the engine's step loop in this thread; off = the engine's recompute mode.
      const rate = (kvCache: boolean) => {
        const core = new EngineCore(model, null, resolveEngineConfig(loaded.config, { kvCacheMemory: 256 << 20, kvCache, maxNumSeqs: 1 }));
        const [r] = runToEnd(core, [prompt], params);
        return r!.tokenIds.length / ((r!.timeline.finished! - r!.timeline.arrival) / 1000);
      };
      const row = { outputLen, on: rate(true), off: rate(false) };
      rows.push(row);
      o.log(`  ${outputLen} tokens: ${row.on.toFixed(1)} tok/s with the KV cache, ${row.off.toFixed(1)} without`);
    }
    const img = await chart(lineChart('Generation speed with and without the KV cache', 'output tokens', 'tokens/s',
      rows.flatMap((r) => [{ x: r.outputLen, y: r.on, series: 'KV cache on' }, { x: r.outputLen, y: r.off, series: 'KV cache off' }]), true), 'experiment-kv-cache');
    sections.push([
      '### The KV cache on against off',
      '',
      `One sequence, a ${o.kvPromptLen}-token prompt, greedy; tokens/s over the whole generation (prefill included). Without the cache every new token recomputes the whole sequence.`,
      '',
      '| output tokens | KV cache on (tok/s) | off (tok/s) | speed-up |',
      '|---|---|---|---|',
      ...rows.map((r) => `| ${r.outputLen} | ${r.on.toFixed(1)} | ${r.off.toFixed(1)} | ${(r.on / r.off).toFixed(1)}x |`),
      '',
      img,
    ].join('\n'));
  }

  const withEngine = async <T>(extra: Partial<EngineOptions>, f: (e: AsyncEngine) => Promise<T>): Promise<T> => {
    const engine = await AsyncEngine.start({ ...o.engine, ...extra });
    try {
      return await f(engine);
    } finally {
      await engine.close();
    }
  };

  if (o.only.includes('batching')) {
    o.log('experiment: static against continuous batching');
    const b = o.batching;
    const results: { name: string; r: ThroughputResult }[] = [];
    for (const [name, extra] of [['continuous', { scheduler: 'continuous' }], ['static', { scheduler: 'static' }], ['sequential', { maxNumSeqs: 1 }]] as const) {
      const r = await withEngine(extra, async (e) => {
        const requests = randomDataset({ numPrompts: b.numPrompts, inputLen: b.inputLen, outputLen: b.outputLen, rangeRatio: b.rangeRatio, vocabSize: e.info.model.vocabSize, seed: 0 });
        return benchThroughput(e, requests);
      });
      results.push({ name, r });
      o.log(`  ${name}: ${r.requestsPerSecond.toFixed(3)} requests/s, ${r.totalTokensPerSecond.toFixed(1)} tok/s`);
    }
    const cont = results[0]!.r.requestsPerSecond;
    const img = await chart(barChart('Throughput by scheduler', 'requests/s', results.map(({ name, r }) => ({ group: name, series: name, value: r.requestsPerSecond }))), 'experiment-batching');
    sections.push([
      '### Static against continuous batching',
      '',
      `${b.numPrompts} requests of ${b.inputLen} prompt and ${b.outputLen} output tokens on average (lengths within ±${Math.round(b.rangeRatio * 100)}%), all submitted at once.`,
      '',
      '| scheduler | requests/s | total tok/s | TTFT p50 (ms) | TPOT p50 (ms) | continuous is |',
      '|---|---|---|---|---|---|',
      ...results.map(({ name, r }) => `| ${name} | ${r.requestsPerSecond.toFixed(3)} | ${r.totalTokensPerSecond.toFixed(1)} | ${r.ttftMs.median.toFixed(0)} | ${r.tpotMs.median.toFixed(1)} | ${name === 'continuous' ? '' : `${(cont / r.requestsPerSecond).toFixed(2)}x faster`} |`),
      '',
      img,
    ].join('\n'));
  }

  if (o.only.includes('prefix-caching')) {
    o.log('experiment: prefix caching on against off');
    const p = o.prefix;
    const rows: { name: string; r: ThroughputResult }[] = [];
    for (const on of [true, false]) {
      const r = await withEngine({ enablePrefixCaching: on }, (e) => benchThroughput(e,
        prefixRepetitionDataset({ numPrompts: p.numPrompts, prefixLen: p.prefixLen, suffixLen: p.suffixLen, numPrefixes: 1, outputLen: p.outputLen, vocabSize: e.info.model.vocabSize, seed: 0 }),
        { maxConcurrency: 1 }));
      rows.push({ name: on ? 'on' : 'off', r });
      o.log(`  prefix caching ${on ? 'on' : 'off'}: TTFT p50 ${r.ttftMs.median.toFixed(0)} ms`);
    }
    const img = await chart(barChart('TTFT p50 on a shared prefix', 'ms', rows.map(({ name, r }) => ({ group: `caching ${name}`, series: name, value: r.ttftMs.median }))), 'experiment-prefix-caching');
    sections.push([
      '### Prefix caching on against off',
      '',
      `${p.numPrompts} requests sharing a ${p.prefixLen}-token prefix, each with its own ${p.suffixLen} tokens and ${p.outputLen} output tokens, one at a time.`,
      '',
      '| prefix caching | TTFT p50 (ms) | TTFT mean (ms) | hit rate | requests/s |',
      '|---|---|---|---|---|',
      ...rows.map(({ name, r }) => `| ${name} | ${r.ttftMs.median.toFixed(0)} | ${r.ttftMs.mean.toFixed(0)} | ${(r.prefixCacheHitRate * 100).toFixed(1)}% | ${r.requestsPerSecond.toFixed(3)} |`),
      '',
      `TTFT p50 is ${(rows[1]!.r.ttftMs.median / rows[0]!.r.ttftMs.median).toFixed(1)}x lower with prefix caching.`,
      '',
      img,
    ].join('\n'));
  }

  if (o.only.includes('kv-dtype')) {
    o.log('experiment: KV-cache dtypes');
    const { loaded, model } = await loadOffline();
    const k = o.kvDtype;
    const budget = 4 * 2 ** 30;
    const speed = benchKVCache(model, { dtypes: KV_CACHE_DTYPES, context: k.context, batchSize: k.batchSize, steps: k.steps, numIters: 3, kvCacheMemory: budget },
      (d, tps) => o.log(`  ${d}: ${tps.toFixed(2)} tok/s`));
    const bos = loaded.tokenizer?.bosTokenId ?? loaded.config.bosTokenId ?? 1;
    const acc = kvAccuracy(model, [[bos]], k.accuracySteps, KV_CACHE_DTYPES);
    const f16 = speed.find((r) => r.dtype === 'f16')!;
    const img = await chart(barChart(`Sequences of ${k.context + k.steps} tokens in 4 GiB of KV cache`, 'sequences', speed.map((r) => ({ group: r.dtype, series: r.dtype, value: r.sequencesThatFit }))), 'experiment-kv-dtype');
    sections.push([
      '### KV-cache dtypes',
      '',
      `Capacity: sequences of ${k.context + k.steps} tokens in 4 GiB. Speed: batch ${k.batchSize} decoding at ${k.context} tokens of context (median of 3 × ${k.steps} steps). Accuracy: against f32 KV over f32's ${k.accuracySteps}-token greedy text from BOS (teacher-forced; free-running agreement after it).`,
      '',
      '| KV dtype | bytes/token | sequences | vs f16 | decode tok/s | vs f16 | attention ms/step | max \\|Δlogit\\| | mean KL | greedy agreement | free-running |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...speed.map((r, i) => {
        const a = acc.rows[i]!;
        return `| ${r.dtype} | ${r.bytesPerToken} | ${r.sequencesThatFit} | ${(r.sequencesThatFit / f16.sequencesThatFit).toFixed(2)}x | ${r.decodeTokensPerSecond.toFixed(2)} | ${(r.decodeTokensPerSecond / f16.decodeTokensPerSecond).toFixed(2)}x | ${r.attentionMsPerStep.toFixed(1)} | ${a.maxAbsLogitDiff.toExponential(2)} | ${a.meanKL.toExponential(2)} | ${(a.greedyAgreement * 100).toFixed(1)}% | ${(a.freeRunAgreement * 100).toFixed(1)}% |`;
      }),
      '',
      img,
    ].join('\n'));
  }

  if (o.only.includes('spec-decode')) {
    o.log('experiment: speculative decoding');
    const { loaded, model } = await loadOffline();
    const sd = o.specDecode;
    if (sd.quoteText !== undefined && !loaded.tokenizer) throw new UsageError('--spec-quote-text needs a model with a tokenizer (or --tokenizer)');
    const text = sd.quoteText !== undefined ? { content: sd.quoteText, tokenizer: loaded.tokenizer!, sentences: 4 } : undefined;
    const requests = quoteDataset({ numPrompts: sd.numPrompts, outputLen: sd.outputLen, seed: 0, passageLen: sd.passageLen, vocabSize: loaded.config.vocabSize, ...(text ? { text } : {}) });
    const layers = Math.max(1, loaded.config.numLayers - 1);
    const methods: [string, EngineConfigInput, CausalLM?][] = [
      ['n-gram, k 4', { speculativeMethod: 'ngram', numSpeculativeTokens: 4 }],
      ['n-gram, k 8, matches of 2-8', { speculativeMethod: 'ngram', numSpeculativeTokens: 8, promptLookupMax: 8 }],
      ['the target as its own draft, k 4', { speculativeModel: o.engine.model, numSpeculativeTokens: 4 }, model],
      [`layer-skip, ${layers} of ${loaded.config.numLayers} layers, k 4`, { speculativeMethod: 'layer-skip', draftLayers: layers, numSpeculativeTokens: 4 }],
    ];
    const engine: EngineConfigInput = { ...(o.engine.kvCacheMemory ? { kvCacheMemory: o.engine.kvCacheMemory } : {}), ...(o.engine.kvCacheDtype ? { kvCacheDtype: o.engine.kvCacheDtype } : {}) };
    const rows = methods.flatMap(([name, speculative, draft]) =>
      benchSpecDecode(model, loaded.tokenizer, requests, { engine, speculative, ...(draft ? { draft } : {}), batchSizes: sd.batchSizes, numIters: sd.numIters, temperature: 0 }, o.log)
        .map((r) => ({ name, r })));
    const img = await chart(barChart('Speculative decoding: speed-up over plain decoding', 'x', rows.map(({ name, r }) => ({ group: `${name} (batch ${r.batchSize})`, series: name, value: r.speedup }))), 'experiment-spec-decode');
    sections.push([
      '### Speculative decoding against plain decoding',
      '',
      `${sd.numPrompts} "quote" prompts (${text ? 'four sentences of the given text' : `a ${sd.passageLen}-token random passage`}, then its first half again), ${sd.outputLen} greedy tokens each; ${sd.numIters} alternating iterations: tokens/s are medians, the speed-up is the median of each iteration pair's ratio. "Without drafting" subtracts the time spent proposing.`,
      '',
      '| method | batch | plain tok/s | speculative tok/s | speed-up | without drafting | decode steps | mean acceptance length |',
      '|---|---|---|---|---|---|---|---|',
      ...rows.map(({ name, r }) => `| ${name} | ${r.batchSize} | ${r.plainTokensPerSecond.toFixed(1)} | ${r.specTokensPerSecond.toFixed(1)} | ${r.speedup.toFixed(2)}x | ${r.speedupExcludingDrafting.toFixed(2)}x | ${r.specSteps} of ${r.plainSteps} | ${r.spec.meanAcceptanceLength.toFixed(2)} |`),
      '',
      img,
    ].join('\n'));
  }

  // Each section names the run that made it, so a later run of some experiments (--only) replaces
  // just those sections and the others keep their own provenance.
  const provenance = [
    `Run ${new Date().toISOString().slice(0, 10)} on \`${o.engine.model}\`:`,
    '',
    '```sh',
    o.command,
    '```',
  ].join('\n');
  const header = `Machine: ${machineDescription()}. Each section names the run that produced it.`;
  const withProvenance = sections.map((sec) => sec.replace(/^(### [^\n]*\n)/, `$1\n${provenance}\n`));
  return { markdown: [header, ...withProvenance].join('\n\n') + '\n', charts };
}

export const EXPERIMENTS_START = '<!-- tsllm bench experiments: start -->';
export const EXPERIMENTS_END = '<!-- tsllm bench experiments: end -->';

/**
 * The document with its experiments block updated: the sections in `markdown` replace those of the
 * same title and new ones are added at the end; the others stay. Without a block, one is appended
 * under a heading.
 */
export function spliceExperiments(doc: string, markdown: string): string {
  const start = doc.indexOf(EXPERIMENTS_START);
  const end = doc.indexOf(EXPERIMENTS_END);
  if (start < 0 || end < start) return `${doc.trimEnd()}\n\n## The seed's experiments (tsllm bench experiments)\n\n${EXPERIMENTS_START}\n${markdown}${EXPERIMENTS_END}\n`;
  const old = splitSections(doc.slice(start + EXPERIMENTS_START.length, end));
  const now = splitSections(markdown);
  const merged = new Map(old.sections);
  for (const [title, text] of now.sections) merged.set(title, text);
  const body = [now.header, ...merged.values()].map((x) => x.trim()).join('\n\n') + '\n';
  return `${doc.slice(0, start)}${EXPERIMENTS_START}\n${body}${EXPERIMENTS_END}${doc.slice(end + EXPERIMENTS_END.length)}`;
}

/** The text before the first "### " heading, and each section by its heading, in order. */
function splitSections(md: string): { header: string; sections: Map<string, string> } {
  const parts = md.split(/^(?=### )/m);
  const header = parts[0]!.startsWith('### ') ? '' : parts.shift()!;
  const title = (p: string) => (p.includes('\n') ? p.slice(0, p.indexOf('\n')) : p);
  return { header, sections: new Map(parts.map((p) => [title(p), p])) };
}
