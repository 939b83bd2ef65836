// `bench spec-decode`: the same requests decoded plainly and with speculation, on one model loaded
// once, at each batch size (requests in flight at once). Both engines are warmed up first; their
// iterations run in pairs, each pair in the other order than the last, so JIT warm-up and drifts in
// machine load hit both alike. The report gives median tokens/s, the speed-up (the median of the
// paired iterations' ratios), the decode steps each needed and the acceptance figures.

import { EngineCore } from '../engine/engine-core.js';
import { resolveEngineConfig, type EngineConfigInput } from '../engine/engine-config.js';
import { makeSamplingParams } from '../engine/sampling/sampling-params.js';
import type { CausalLM } from '../model/architectures/decoder.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import type { BenchRequest } from './datasets.js';
import { median } from './stats.js';
import { specDecodeFigures, type SpecDecodeFigures } from './throughput.js';

export interface SpecBenchOptions {
  engine: EngineConfigInput;
  /** The speculative settings compared with plain decoding. */
  speculative: EngineConfigInput;
  draft?: CausalLM;
  batchSizes: readonly number[];
  numIters: number;
  temperature: number;
}

export interface SpecBenchRow {
  batchSize: number;
  plainTokensPerSecond: number;
  specTokensPerSecond: number;
  /** Median over iterations of speculative / plain tokens/s, each pair run back to back. */
  speedup: number;
  /** The speed-up with the drafting time taken out: what verification alone buys (drafts for free). */
  speedupExcludingDrafting: number;
  plainSteps: number;
  specSteps: number;
  spec: SpecDecodeFigures;
}

interface Run {
  seconds: number;
  tokens: number;
  steps: number;
  core: EngineCore;
}

export function benchSpecDecode(model: CausalLM, tokenizer: Tokenizer | null, requests: readonly BenchRequest[], o: SpecBenchOptions, log?: (line: string) => void): SpecBenchRow[] {
  const make = (batchSize: number, spec: boolean) => () =>
    new EngineCore(model, tokenizer, resolveEngineConfig(model.config, { ...o.engine, ...(spec ? o.speculative : {}), maxNumSeqs: batchSize }, spec ? o.draft?.config : undefined), spec ? o.draft : undefined);
  const run = (newCore: () => EngineCore, reqs: readonly BenchRequest[]): Run => {
    const core = newCore();
    reqs.forEach((r, i) => core.addRequest({ id: String(i), promptIds: r.promptIds, params: makeSamplingParams({ temperature: o.temperature, seed: i, maxTokens: r.outputLen, ignoreEos: true }) }));
    let tokens = 0;
    let steps = 0;
    const t0 = performance.now();
    while (core.hasWork) {
      steps++;
      for (const out of core.step()) tokens += out.tokenIds.length;
    }
    return { seconds: (performance.now() - t0) / 1000, tokens, steps, core };
  };
  return o.batchSizes.map((batchSize) => {
    const plain = make(batchSize, false);
    const spec = make(batchSize, true);
    // Warm-up: a single request left the first measured plain iteration visibly slower (JIT still
    // compiling), which flattered that pair's ratio.
    const warmup = requests.slice(0, Math.max(batchSize, 8));
    run(plain, warmup);
    run(spec, warmup);
    const plainRuns: Run[] = [];
    const specRuns: Run[] = [];
    for (let i = 0; i < o.numIters; i++) {
      // Which of the pair goes first alternates (plain-spec, spec-plain, ...): whatever the first run
      // leaves to the second (garbage to collect, a warmer or cooler core) falls on both sides alike.
      if (i % 2 === 0) {
        plainRuns.push(run(plain, requests));
        specRuns.push(run(spec, requests));
      } else {
        specRuns.push(run(spec, requests));
        plainRuns.push(run(plain, requests));
      }
      log?.(`  batch ${batchSize}, iteration ${i + 1}: plain ${(plainRuns[i]!.tokens / plainRuns[i]!.seconds).toFixed(1)} tok/s, speculative ${(specRuns[i]!.tokens / specRuns[i]!.seconds).toFixed(1)} tok/s`);
    }
    const rate = (r: Run, excludeDrafting = false) => r.tokens / (r.seconds - (excludeDrafting ? r.core.stats().spec!.draftMs / 1000 : 0));
    // The two runs of a pair ran back to back, under the same machine load: the speed-up is the median
    // of the pairs' ratios, which load swings between pairs do not move.
    const pairedSpeedup = (excludeDrafting: boolean) => median(specRuns.map((r, i) => rate(r, excludeDrafting) / rate(plainRuns[i]!)));
    return {
      batchSize,
      plainTokensPerSecond: median(plainRuns.map((r) => rate(r))),
      specTokensPerSecond: median(specRuns.map((r) => rate(r))),
      speedup: pairedSpeedup(false),
      speedupExcludingDrafting: pairedSpeedup(true),
      plainSteps: plainRuns[0]!.steps,
      specSteps: specRuns[0]!.steps,
      spec: specDecodeFigures(undefined, specRuns[0]!.core.stats().spec!),
    };
  });
}
