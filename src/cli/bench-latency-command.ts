// tsllm bench latency: prefill and decode tokens/s of one batch, with the achieved decode bandwidth and
// prefill GFLOP/s, optionally side by side with llama.cpp on the same GGUF file in the same run.

import { Command, Option } from 'commander';
import { LOAD_FORMATS, loadModel, type LoadFormat } from '../model/load-model.js';
import { UsageError } from '../util/errors.js';
import { resolveHubModel } from '../model/hub/hub-download.js';
import { physicalCores } from '../kernels/create-backend.js';
import { benchLatency, benchPrompts, TsllmLatencyRunner, type LatencyResult, type LatencyRunner } from '../bench/latency.js';
import { LlamaCppLatencyRunner } from '../bench/peer-llama-cpp.js';
import { LlamaBenchRunner } from '../bench/peer-llama-bench.js';
import { modelFootprint } from '../bench/model-footprint.js';
import { ReadBandwidthProbe } from '../bench/kernel-bench.js';
import { NativeBackend } from '../kernels/native/native-backend.js';
import { addBackendOptions, backendFromFlags, modelOptions, quantizeFlag, type BackendFlags } from './backend-options.js';
import { addParallelOptions, parallelFromFlags, type ParallelFlags } from './parallel-flags.js';
import { resolveParallelOptions } from '../engine/parallel/parallel-options.js';
import { EngineLatencyRunner } from '../bench/engine-latency-runner.js';
import { parseIntArg, runCommand } from './run-command.js';
import { kvCacheDtypeOption } from './engine-flags.js';
import { printTable } from './table.js';
import { resolveKVCacheDType, type KVCacheDTypeOption } from '../engine/engine-config.js';
import { MODEL_FLAG_DEFAULT, withBuiltinModel } from './builtin-model.js';
import { causalLMWithProgress } from './load-progress.js';

interface LatencyFlags extends BackendFlags, ParallelFlags {
  model?: string;
  loadFormat: LoadFormat;
  inputLen: number;
  outputLen: number;
  batchSize: number;
  numIters: number;
  warmupIters: number;
  peer: 'none' | 'llama.cpp' | 'llama-bench';
  peerBin?: string;
  kvCacheDtype: KVCacheDTypeOption;
  roofline: boolean;
  json?: boolean;
}

export function benchLatencyCommand(): Command {
  return addParallelOptions(addBackendOptions(new Command('latency')))
    .description('prefill and decode speed of one batch (medians over iterations), optionally against llama.cpp')
    .option('-m, --model <model>', 'model folder, .gguf file, Hub id, or preset (with --load-format dummy) ' + MODEL_FLAG_DEFAULT)
    .option('--load-format <format>', `how to read --model: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .option('--input-len <n>', 'prompt tokens per sequence', parseIntArg('--input-len'), 512)
    .option('--output-len <n>', 'decode steps per sequence', parseIntArg('--output-len'), 128)
    .option('--batch-size <n>', 'sequences decoded together', parseIntArg('--batch-size'), 1)
    .option('--num-iters <n>', 'timed iterations', parseIntArg('--num-iters'), 3)
    .option('--warmup-iters <n>', 'untimed iterations first', parseIntArg('--warmup-iters'), 1)
    .addOption(new Option('--peer <engine>', 'also measure this engine on the same GGUF file, iterations interleaved').choices(['none', 'llama.cpp', 'llama-bench']).default('none'))
    .option('--peer-bin <dir>', 'with --peer llama-bench: the folder holding a natively built llama-bench and llama-batched-bench')
    .addOption(kvCacheDtypeOption())
    .option('--no-roofline', "skip measuring the machine's read bandwidth before each timed iteration (decode's roofline)")
    .option('--json', 'print the results as JSON')
    .action((flags: LatencyFlags) => runCommand(() => latency(withBuiltinModel(flags))));
}

async function latency(f: LatencyFlags & { model: string }): Promise<void> {
  for (const [name, v] of [['--input-len', f.inputLen], ['--output-len', f.outputLen], ['--batch-size', f.batchSize], ['--num-iters', f.numIters]] as const) {
    if (v < 1) throw new UsageError(`${name} must be at least 1`);
  }
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const backend = backendFromFlags(f);
  const loaded = await loadModel(f.model, { loadFormat: f.loadFormat, resolveHubId: resolveHubModel, ...quantizeFlag(f, backend) });
  const threads = f.threads ?? physicalCores();
  const parallel = resolveParallelOptions(parallelFromFlags(f));
  const runners: LatencyRunner[] = [];
  if (parallel.worldSize > 1) {
    // The ranks each load their share; this process keeps the whole model only for the figures below.
    if (f.outputLen < 2) throw new UsageError('--output-len must be at least 2 with -tp/-pp (the first token ends the prefill)');
    const layout = `-tp ${parallel.tensorParallelSize} -pp ${parallel.pipelineParallelSize}`;
    runners.push(await EngineLatencyRunner.start(`tsllm (${backend.name}, ${layout}, ${threads} threads per rank)`, {
      ...modelOptions(f), ...parallelFromFlags(f), kvCacheDtype: f.kvCacheDtype,
    }));
  } else {
    const model = causalLMWithProgress(loaded.config, loaded.weights, backend);
    runners.push(new TsllmLatencyRunner(`tsllm (${backend.name}, ${threads} threads)`, model, resolveKVCacheDType(f.kvCacheDtype)));
  }
  if (f.peer === 'llama.cpp') {
    if (loaded.format !== 'gguf') throw new UsageError('--peer llama.cpp needs a .gguf model, so both engines read the same file');
    runners.push(await LlamaCppLatencyRunner.create(loaded.source, {
      threads, batchSize: f.batchSize, contextPerSequence: f.inputLen + f.outputLen + 8, log,
    }));
  }
  if (f.peer === 'llama-bench') {
    if (loaded.format !== 'gguf') throw new UsageError('--peer llama-bench needs a .gguf model, so both engines read the same file');
    if (!f.peerBin) throw new UsageError('--peer llama-bench needs --peer-bin <folder of llama-bench>');
    try {
      runners.push(new LlamaBenchRunner(f.peerBin, loaded.source, threads, f.batchSize));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const prompts = benchPrompts(loaded.config.vocabSize, f.inputLen, f.batchSize);
  log(`bench latency: ${loaded.source}, batch ${f.batchSize}, ${f.inputLen} prompt tokens, ${f.outputLen} decode steps, ${f.warmupIters} warm-up + ${f.numIters} timed iterations`);
  // Decode's ceiling is the read bandwidth over the weight bytes; measured between the iterations, as
  // the host's load drifts, with the kernels' own threads (the native backend's only). The best of the
  // measurements is the roofline: a dip is a neighbour's load, not the machine, and the best keeps the
  // percentage from flattering decode.
  const probe = f.roofline && backend instanceof NativeBackend ? new ReadBandwidthProbe(backend) : undefined;
  const reads: number[] = [];
  const results = await benchLatency(runners, prompts, f, (name, s) =>
    log(`  ${name}: prefill ${(s.prefillTokens / s.prefillSeconds).toFixed(1)} tok/s, decode ${((s.decodeSteps * f.batchSize) / s.decodeSeconds).toFixed(1)} tok/s`),
  probe && (() => {
    reads.push(probe.measure());
    log(`  read bandwidth: ${reads.at(-1)!.toFixed(1)} GB/s`);
  }));
  const readGBps = reads.length ? Math.max(...reads) : undefined;
  for (const r of runners) await r.close?.();

  const fp = modelFootprint(loaded.weights, loaded.config.moe?.topK ?? 0);
  // A MoE decode step reads at most topK experts per sequence in each layer (all of them once the batch covers them).
  const moe = loaded.config.moe;
  const stepBytes = moe ? modelFootprint(loaded.weights, Math.min(moe.numExperts, moe.topK * f.batchSize)).activeWeightBytes : fp.weightBytes;
  const rows = results.map((r) => ({
    ...r,
    decodeGBps: (stepBytes * r.decodeStepsPerSecond) / 1e9,
    prefillGflops: (2 * fp.matmulParams * r.prefillTokensPerSecond) / 1e9,
  }));
  if (f.json) {
    process.stdout.write(JSON.stringify({
      model: loaded.source, inputLen: f.inputLen, outputLen: f.outputLen, batchSize: f.batchSize, threads,
      weightBytes: fp.weightBytes, decodeStepBytes: stepBytes, matmulParams: fp.matmulParams, readGBps, readGBpsSamples: reads, results: rows,
    }, null, 2) + '\n');
    return;
  }
  printLatencyTable(rows, f.batchSize, readGBps);
  if (readGBps !== undefined) {
    process.stdout.write(`read bandwidth ${readGBps.toFixed(1)} GB/s: the best of ${reads.length} measurements (${reads.map((g) => g.toFixed(1)).join(', ')}) before the timed iterations, 512 MB streamed by ${threads} threads; % of read = decode GB/s over it\n`);
  }
}

function printLatencyTable(rows: (LatencyResult & { decodeGBps: number; prefillGflops: number })[], batch: number, readGBps?: number): void {
  const header = ['engine', 'prefill tok/s', `decode tok/s (batch ${batch})`, 'decode GB/s', ...(readGBps ? ['% of read'] : []), 'prefill GFLOP/s'];
  const body = rows.map((r) => [r.engine, r.prefillTokensPerSecond.toFixed(1), r.decodeTokensPerSecond.toFixed(1), r.decodeGBps.toFixed(1),
    ...(readGBps ? [`${((100 * r.decodeGBps) / readGBps).toFixed(1)}%`] : []), r.prefillGflops.toFixed(1)]);
  if (rows.length === 2) {
    const [a, b] = [rows[0]!, rows[1]!];
    body.push(['ratio tsllm / peer', `${(a.prefillTokensPerSecond / b.prefillTokensPerSecond).toFixed(2)}x`, `${(a.decodeTokensPerSecond / b.decodeTokensPerSecond).toFixed(2)}x`, '', ...(readGBps ? [''] : []), '']);
  }
  printTable(header, body);
}
