// tsllm quantize IN OUT --type T: llama-quantize's job, from F32/F16/BF16 GGUF or Hugging Face weights.

import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { UsageError } from '../util/errors.js';
import { quantizeModel } from '../model/quantize/quantize-model.js';
import { QUANT_TYPE_NAMES, parseQuantType } from '../model/quantize/tensor-types.js';
import { runCommand } from './run-command.js';

export function quantizeCommand(): Command {
  return new Command('quantize')
    .description("write a GGUF in one of llama.cpp's quantization types (its per-tensor mixes, no importance matrix)")
    .argument('<input>', 'a GGUF with F32/F16/BF16 weights, a Hugging Face folder (Llama, Mistral, Qwen2, Qwen3), or preset:NAME (a --load-format dummy shape with random weights)')
    .argument('<output>', 'the GGUF to write')
    .requiredOption('--type <type>', QUANT_TYPE_NAMES.join(', '))
    .option('--quiet', 'no progress bar')
    .action((input: string, output: string, o: { type: string; quiet?: boolean }) =>
      runCommand(async () => {
        const type = parseQuantType(o.type);
        if (!type) throw new UsageError(`unknown --type ${o.type} (choose from ${QUANT_TYPE_NAMES.join(', ')})`);
        const bar = o.quiet || !process.stderr.isTTY ? null : new cliProgress.SingleBar({ format: 'quantize {bar} {percentage}% | {tensor}', stream: process.stderr }, cliProgress.Presets.shades_classic);
        bar?.start(100, 0, { tensor: '' });
        const t0 = performance.now();
        const report = await quantizeModel(input, output, {
          type,
          onProgress: (done, total, tensor) => bar?.update(Math.round((100 * done) / total), { tensor }),
        });
        bar?.stop();
        const counts = new Map<string, number>();
        for (const t of report.tensors) counts.set(t.to.toUpperCase(), (counts.get(t.to.toUpperCase()) ?? 0) + 1);
        const mix = [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
        process.stdout.write(`${output}: ${type}, ${report.tensors.length} tensors (${mix}), ${(report.bytesIn / 2 ** 20).toFixed(1)} MiB -> ${(report.bytesOut / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      }));
}
