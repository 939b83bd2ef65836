// tsllm bench sweep: decode throughput and per-token latency against batch size, drawn over the
// calculator's roofline prediction for this machine (SVG and PNG), with the misses explained.

import path from 'node:path';
import { Command, Option } from 'commander';
import { writeChart, lineChart } from '../bench/charts.js';
import { storedWeightBytes } from '../bench/model-footprint.js';
import { explainMiss, runSweep, type SweepPoint } from '../bench/sweep.js';
import { HARDWARE_NAMES } from '../calc/hardware.js';
import { countParams, kvBytesPerToken } from '../calc/model-math.js';
import { decodeStep } from '../calc/roofline.js';
import { UsageError } from '../util/errors.js';
import { resolveHubModel } from '../model/hub/hub-download.js';
import { LOAD_FORMATS, loadModel, type LoadFormat } from '../model/load-model.js';
import { addBackendOptions, backendFromFlags, quantizeFlag, type BackendFlags } from './backend-options.js';
import { resolveHardware } from './calc-command.js';
import { parseIdList, parseIntArg, runCommand } from './run-command.js';
import { MODEL_FLAG_DEFAULT, withBuiltinModel } from './builtin-model.js';
import { causalLMWithProgress } from './load-progress.js';

interface SweepFlags extends BackendFlags {
  model?: string;
  loadFormat: LoadFormat;
  batchSizes: number[];
  inputLen: number;
  outputLen: number;
  numIters: number;
  hardware: string;
  measure: boolean;
  outDir: string;
  json?: boolean;
}

export function benchSweepCommand(): Command {
  return addBackendOptions(new Command('sweep'))
    .description('decode throughput and latency against batch size, measured and predicted by the roofline (charts as SVG and PNG)')
    .option('-m, --model <model>', 'model folder, .gguf file, Hub id, or preset (with --load-format dummy) ' + MODEL_FLAG_DEFAULT)
    .option('--load-format <format>', `how to read --model: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .option('--batch-sizes <list>', 'batch sizes', parseIdList('--batch-sizes'), [1, 2, 4, 8, 16, 32, 64])
    .option('--input-len <n>', 'prompt tokens per sequence', parseIntArg('--input-len'), 32)
    .option('--output-len <n>', 'decode steps timed per batch size', parseIntArg('--output-len'), 8)
    .option('--num-iters <n>', 'timed runs per batch size (median)', parseIntArg('--num-iters'), 1)
    .addOption(new Option('--hardware <name>', 'roofline figures: measured here (cpu with --measure) or a preset').choices([...HARDWARE_NAMES]).default('cpu'))
    .option('--no-measure', 'use the hardware preset\'s datasheet figures instead of measuring the kernels')
    .option('--out-dir <dir>', 'where the charts go', 'bench-results')
    .option('--json', 'print the points as JSON')
    .action((flags: SweepFlags) => runCommand(() => sweep(withBuiltinModel(flags))));
}

async function sweep(f: SweepFlags & { model: string }): Promise<void> {
  if (f.batchSizes.some((b) => b < 1)) throw new UsageError('--batch-sizes must be positive');
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const backend = backendFromFlags(f);
  const loaded = await loadModel(f.model, { loadFormat: f.loadFormat, resolveHubId: resolveHubModel, ...quantizeFlag(f, backend) });
  const config = loaded.config;
  const dtype = loaded.weights.layers[0]?.q.dtype ?? 'f32';
  const hw = await resolveHardware({ hardware: f.hardware, measure: f.measure && f.hardware === 'cpu' }, dtype);
  const model = causalLMWithProgress(config, loaded.weights, backend);
  // The engine keeps K/V in float32; the mean context over the timed steps.
  const shape = {
    weightBytes: storedWeightBytes(loaded.weights, countParams(config).total, config.moe?.numExperts ?? 0),
    kvBytesPerToken: kvBytesPerToken(config, 'f32'),
    context: f.inputLen + f.outputLen / 2,
  };
  log(`bench sweep: ${loaded.source} on ${model.backend.name}; roofline: ${hw.name}, ${(hw.peakFlops / 1e9).toFixed(1)} GFLOP/s, ${(hw.bandwidth / 1e9).toFixed(1)} GB/s`);
  const points = await runSweep(model, { batchSizes: f.batchSizes, inputLen: f.inputLen, outputLen: f.outputLen, numIters: f.numIters },
    (b) => decodeStep(config, hw, shape, b),
    (p) => log(`  batch ${p.batch}: ${p.measuredTokensPerSecond.toFixed(1)} tok/s measured, ${p.predictedTokensPerSecond.toFixed(1)} predicted (${(p.error * 100).toFixed(0)}%)`));
  const misses = points.map((p) => {
    const d = decodeStep(config, hw, shape, p.batch);
    return explainMiss(p, d.computeSeconds * 1000, d.memorySeconds * 1000);
  }).filter((m): m is string => m !== null);

  const base = path.join(f.outDir, 'sweep');
  const series = (p: SweepPoint, measured: number, predicted: number) => [
    { x: p.batch, y: measured, series: 'measured' },
    { x: p.batch, y: predicted, series: 'roofline prediction' },
  ];
  const charts = {
    throughput: await writeChart(lineChart(`Decode throughput, ${path.basename(loaded.source)}`, 'batch size', 'tokens/s',
      points.flatMap((p) => series(p, p.measuredTokensPerSecond, p.predictedTokensPerSecond)), true), `${base}-throughput`),
    latency: await writeChart(lineChart(`Per-token latency, ${path.basename(loaded.source)}`, 'batch size', 'ms per decode step',
      points.flatMap((p) => series(p, p.measuredStepMs, p.predictedStepMs)), true), `${base}-latency`),
  };
  const within = points.filter((p) => Math.abs(p.error) <= 0.3).length;
  if (f.json) {
    process.stdout.write(JSON.stringify({ model: loaded.source, hardware: hw, context: shape.context, points, within30: within, misses, charts }, null, 2) + '\n');
    return;
  }
  const rows = points.map((p) => `${String(p.batch).padStart(5)}   ${p.measuredTokensPerSecond.toFixed(1).padStart(10)}   ${p.predictedTokensPerSecond.toFixed(1).padStart(10)}   ${p.measuredStepMs.toFixed(1).padStart(9)}   ${p.predictedStepMs.toFixed(1).padStart(9)}   ${p.predictedBound.padEnd(7)}   ${(p.error * 100).toFixed(0).padStart(4)}%`);
  process.stdout.write([
    'batch   measured tok/s  predicted   step ms   pred. ms   bound     error',
    ...rows,
    '',
    `prediction within 30% at ${within} of ${points.length} batch sizes`,
    ...misses.map((m) => `  why: ${m}`),
    `charts: ${charts.throughput.svg}, ${charts.throughput.png}, ${charts.latency.svg}, ${charts.latency.png}`,
  ].join('\n') + '\n');
}
