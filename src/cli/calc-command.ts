// tsllm calc: the inference math of a model on a machine (memory, FLOPs, roofline, optimal batch),
// as a table or JSON; `--hardware cpu --measure` replaces the CPU's datasheet figures with what the
// native kernels achieve here.

import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { calcReport, type CalcReport } from '../calc/calc-report.js';
import type { ParallelLayout } from '../calc/parallel-layout.js';
import { HARDWARE, HARDWARE_NAMES, type Hardware } from '../calc/hardware.js';
import { countParams, DTYPE_BYTES, KV_DTYPES, type CalcDtype, type KvDtype } from '../calc/model-math.js';
import { storedWeightBytes } from '../bench/model-footprint.js';
import { benchKernels, KERNEL_BENCH_FORMATS } from '../bench/kernel-bench.js';
import { createBackend } from '../kernels/create-backend.js';
import { NativeBackend } from '../kernels/native/native-backend.js';
import type { WeightDType } from '../kernels/tensor.js';
import type { ModelConfig } from '../model/config.js';
import { UsageError } from '../util/errors.js';
import { pullModel, resolveHubModel } from '../model/hub/hub-download.js';
import { loadModel } from '../model/load-model.js';
import { presetConfig } from '../model/loaders/dummy.js';
import { readHfConfig, readJsonFile } from '../model/loaders/hf-folder.js';
import { parseFloatArg, parseIntArg, runCommand } from './run-command.js';

interface CalcFlags {
  model?: string;
  preset?: string;
  hardware: string;
  peakTflops?: number;
  bandwidthGbs?: number;
  memoryGb?: number;
  dtype?: CalcDtype;
  kvDtype: KvDtype;
  batchSize: number;
  context: number;
  promptLen: number;
  measure?: boolean;
  json?: boolean;
  tensorParallelSize: number;
  pipelineParallelSize: number;
  linkGbs: number;
  linkLatencyUs: number;
}

export function calcCommand(): Command {
  return new Command('calc')
    .description('inference math: parameters, memory, FLOPs, roofline and the optimal batch size of a model on a machine')
    .option('-m, --model <model>', 'model folder (a config.json alone will do), .gguf file or Hub id (weights are mapped, not read)')
    .option('--preset <name>', 'a known architecture instead of a model (e.g. llama-2-7b, llama-3.1-8b, tinyllama-1.1b)')
    .addOption(new Option('--hardware <name>', 'machine').choices([...HARDWARE_NAMES]).default('h100-sxm'))
    .option('--peak-tflops <x>', 'dense peak TFLOP/s (custom, or to override)', parseFloatArg('--peak-tflops'))
    .option('--bandwidth-gbs <y>', 'memory bandwidth in GB/s (custom, or to override)', parseFloatArg('--bandwidth-gbs'))
    .option('--memory-gb <z>', 'memory in GB (custom, or to override)', parseFloatArg('--memory-gb'))
    .addOption(new Option('--dtype <dtype>', 'weight format (default: the model file\'s, else f16)').choices(Object.keys(DTYPE_BYTES)))
    .addOption(new Option('--kv-dtype <dtype>', 'KV-cache format').choices([...KV_DTYPES]).default('f16'))
    .option('--batch-size <n>', 'sequences decoded together', parseIntArg('--batch-size'), 1)
    .option('--context <n>', 'tokens per sequence during decode', parseIntArg('--context'), 1024)
    .option('--prompt-len <n>', 'prompt tokens for the prefill estimate', parseIntArg('--prompt-len'), 512)
    .option('--tensor-parallel-size <n>', 'ranks splitting each layer (-tp): per-rank memory and the step with its all-reduces', parseIntArg('--tensor-parallel-size'), 1)
    .option('--pipeline-parallel-size <n>', 'stages the layers are divided into (-pp): per-rank memory and the step with its activation sends', parseIntArg('--pipeline-parallel-size'), 1)
    .option('--link-gbs <g>', 'bandwidth between ranks in GB/s (default 10: loopback-class)', parseFloatArg('--link-gbs'), 10)
    .option('--link-latency-us <l>', 'one-way latency between ranks in microseconds (default 20)', parseFloatArg('--link-latency-us'), 20)
    .option('--measure', 'with --hardware cpu: measure bandwidth and FLOP/s with the native kernels')
    .option('--json', 'print the report as JSON')
    .action((flags: CalcFlags) => runCommand(() => calc(flags)));
}

async function calc(f: CalcFlags): Promise<void> {
  if ((f.model === undefined) === (f.preset === undefined)) throw new UsageError('give exactly one of --model or --preset');
  for (const [name, v] of [['--batch-size', f.batchSize], ['--context', f.context], ['--prompt-len', f.promptLen]] as const) {
    if (v < 1) throw new UsageError(`${name} must be at least 1`);
  }
  let config: ModelConfig;
  let weightBytes: number;
  let dtype: string;
  if (f.preset !== undefined) {
    config = presetConfig(f.preset);
    dtype = f.dtype ?? 'f16';
    weightBytes = countParams(config).total * DTYPE_BYTES[f.dtype ?? 'f16'];
  } else {
    const dir = await configFolder(f.model!);
    if (isConfigOnly(dir)) {
      // "Will it fit?" before downloading: the config's shapes in its torch_dtype (or --dtype).
      config = readHfConfig(dir);
      dtype = f.dtype ?? torchDtypeOf(readJsonFile(path.join(dir, 'config.json')), dir);
      weightBytes = countParams(config).total * DTYPE_BYTES[dtype as CalcDtype];
    } else {
      const loaded = await loadModel(dir, { resolveHubId: resolveHubModel });
      config = loaded.config;
      if (f.dtype) {
        dtype = f.dtype;
        weightBytes = countParams(config).total * DTYPE_BYTES[f.dtype];
      } else {
        weightBytes = storedWeightBytes(loaded.weights, countParams(config).total, config.moe?.numExperts ?? 0);
        dtype = loaded.weights.layers[0]?.q.dtype ?? 'f32';
      }
    }
  }
  const hardware = await resolveHardware(f, dtype);
  if (f.tensorParallelSize < 1 || f.pipelineParallelSize < 1) throw new UsageError('--tensor-parallel-size and --pipeline-parallel-size must be at least 1');
  const parallel = f.tensorParallelSize * f.pipelineParallelSize > 1
    ? { tp: f.tensorParallelSize, pp: f.pipelineParallelSize, link: { bandwidth: f.linkGbs * 1e9, latency: f.linkLatencyUs * 1e-6 } }
    : undefined;
  const report = calcReport({ config, weightBytes, dtype, kvDtype: f.kvDtype, hardware, batchSize: f.batchSize, context: f.context, promptLen: f.promptLen, ...(parallel ? { parallel } : {}) });
  if (f.json) process.stdout.write(JSON.stringify({ model: f.model ?? f.preset, ...report }, null, 2) + '\n');
  else process.stdout.write(formatReport(f.model ?? f.preset!, report));
}

export interface HardwareFlags {
  hardware: string;
  peakTflops?: number;
  bandwidthGbs?: number;
  memoryGb?: number;
  measure?: boolean;
}

export async function resolveHardware(f: HardwareFlags, dtype: string): Promise<Hardware> {
  let hw: Hardware;
  if (f.hardware === 'custom') {
    if (f.peakTflops === undefined || f.bandwidthGbs === undefined) throw new UsageError('--hardware custom needs --peak-tflops and --bandwidth-gbs');
    hw = { name: 'custom', peakFlops: 0, bandwidth: 0, memory: (f.memoryGb ?? 80) * 1e9 };
  } else hw = { ...HARDWARE[f.hardware]! };
  if (f.peakTflops !== undefined) hw.peakFlops = f.peakTflops * 1e12;
  if (f.bandwidthGbs !== undefined) hw.bandwidth = f.bandwidthGbs * 1e9;
  if (f.memoryGb !== undefined) hw.memory = f.memoryGb * 1e9;
  if (f.measure) {
    if (f.hardware !== 'cpu') throw new UsageError('--measure measures this machine: use it with --hardware cpu');
    const be = createBackend({});
    if (!(be instanceof NativeBackend)) throw new UsageError('--measure needs the native kernels (npm install builds them)');
    const format = (KERNEL_BENCH_FORMATS as string[]).includes(dtype) ? (dtype as WeightDType) : 'f32';
    process.stderr.write(`measuring ${format} matrix-vector bandwidth and matrix-matrix FLOP/s on ${be.threads} threads...\n`);
    const [row] = benchKernels(be, [format]);
    hw = { ...hw, name: `this CPU (measured, ${format} kernels)`, peakFlops: row!.matmulGflops * 1e9, bandwidth: row!.matvecGBps * 1e9 };
  }
  return hw;
}

const gb = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`);
const si = (x: number) => (x >= 1e12 ? `${(x / 1e12).toFixed(2)}T` : x >= 1e9 ? `${(x / 1e9).toFixed(2)}G` : x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x.toFixed(0));
const ms = (s: number) => `${(s * 1000).toFixed(2)} ms`;

export function formatReport(name: string, r: CalcReport): string {
  const lines = [
    `model:               ${name}`,
    `parameters:          ${si(r.params)}${r.activeParams !== r.params ? ` (${si(r.activeParams)} active per token)` : ''}`,
    `weights:             ${gb(r.weightBytes)} as ${r.dtype} (${r.bytesPerParam.toFixed(3)} bytes/parameter)`,
    `KV cache:            ${(r.kvBytesPerToken / 1024).toFixed(1)} KiB/token as ${r.kvDtype}; ${gb(r.kvBytes)} for ${r.batchSize} x ${r.context} tokens`,
    `activations:         ~${gb(r.activationBytesDecode)} per decode step of ${r.batchSize}, ~${gb(r.activationBytesPrefill)} for a ${r.prefill.promptTokens}-token prefill (float32)`,
    `FLOPs/token:         ${si(r.flopsPerToken)} at context ${r.context}`,
    `hardware:            ${r.hardware.name}: ${(r.hardware.peakFlops / 1e12).toFixed(3)} TFLOP/s, ${(r.hardware.bandwidth / 1e9).toFixed(1)} GB/s, ${gb(r.hardware.memory)}`,
    `decode step (B=${r.batchSize}):   compute ${ms(r.decode.computeSeconds)}, memory ${ms(r.decode.memorySeconds)} -> ${r.decode.bound}-bound, ${r.decode.tokensPerSecond.toFixed(1)} tok/s`,
    `optimal batch:       seed's peak x bytes/param / (2 x bandwidth) = ${r.seedOptimalBatch.toFixed(1)}; fits in memory: ${r.maxBatchInMemory}; optimum ${r.optimalBatch}`,
    `prefill:             ${r.prefill.promptTokens} tokens in ${ms(r.prefill.seconds)} (${r.prefill.bound}-bound)`,
    ...(r.parallel ? parallelLines(r.parallel) : []),
    '',
    'batch   step (ms)   tok/s        bound',
    ...r.sweep.map((d) => `${String(d.batch).padStart(5)}   ${(d.stepSeconds * 1000).toFixed(3).padStart(9)}   ${d.tokensPerSecond.toFixed(1).padStart(10)}   ${d.bound}`),
  ];
  return lines.join('\n') + '\n';
}

function parallelLines(p: ParallelLayout): string[] {
  return [
    `parallel:            TP=${p.tp} x PP=${p.pp} = ${p.tp * p.pp} ranks, each with the hardware above`,
    `per rank:            weights ${gb(p.weightBytesPerRank)}, KV ${gb(p.kvBytesPerRank)}`,
    `decode step:         ${ms(p.computeOrMemorySeconds)} compute/memory + ${ms(p.commSeconds)} communication (${p.allReducesPerStep} all-reduces) = ${ms(p.stepSeconds)}, ${p.tokensPerSecond.toFixed(1)} tok/s`,
  ];
}

// A Hub id's config.json alone, fetched into the Hub cache (the weights stay on the Hub); a path as is.
async function configFolder(model: string): Promise<string> {
  if (fs.existsSync(model) || !/^[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(model)) return model;
  return pullModel(model, { files: /^config\.json$/ });
}

// A folder with a config.json and no weights (safetensors, GGUF, PyTorch or llama2.c files).
function isConfigOnly(dir: string): boolean {
  if (!fs.existsSync(path.join(dir, 'config.json')) || !fs.statSync(dir).isDirectory()) return false;
  return !fs.readdirSync(dir).some((f) => /\.(safetensors|gguf|bin|pt|pth)$/.test(f));
}

const TORCH_DTYPES: Record<string, CalcDtype> = { float32: 'f32', float16: 'f16', bfloat16: 'bf16' };

function torchDtypeOf(cfg: Record<string, unknown>, dir: string): CalcDtype {
  const name = cfg['torch_dtype'] ?? cfg['dtype'];
  if (name === undefined) return 'f16';
  const dtype = TORCH_DTYPES[String(name)];
  if (!dtype) throw new UsageError(`${dir}: torch_dtype "${String(name)}" is not one calc knows (float32, float16, bfloat16); give --dtype`);
  return dtype;
}
