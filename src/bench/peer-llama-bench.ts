// The peer as llama.cpp ships it, built from source on the benchmark machine: llama-bench for one
// sequence (pp = the prompt in one batch, tg = one-token steps) and llama-batched-bench for B
// sequences decoded together. Each runOnce is one repetition (-r 1), so the two engines' iterations
// interleave. The binaries are not part of tsllm: --peer-bin names the folder they were built into.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { LatencyRunner, LatencySample } from './latency.js';

function run(bin: string, args: string[]): string {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} exited with ${r.status}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}`);
  return r.stdout;
}

export class LlamaBenchRunner implements LatencyRunner {
  readonly name: string;

  constructor(
    private readonly binDir: string,
    private readonly model: string,
    private readonly threads: number,
    private readonly batchSize: number,
  ) {
    for (const b of this.binaries()) if (!fs.existsSync(b)) throw new Error(`--peer-bin: ${b} not found (build llama.cpp's llama-bench and llama-batched-bench there)`);
    this.name = `llama.cpp (${batchSize === 1 ? 'llama-bench' : 'llama-batched-bench'}, ${threads} threads)`;
  }

  private binaries(): string[] {
    return [path.join(this.binDir, this.batchSize === 1 ? 'llama-bench' : 'llama-batched-bench')];
  }

  // The prompt's tokens but the last in one prefill, then outputLen one-token steps: as tsllm's runner.
  async runOnce(prompts: number[][], outputLen: number): Promise<LatencySample> {
    const pp = prompts[0]!.length - 1, t = String(this.threads);
    if (this.batchSize === 1) {
      const rows = JSON.parse(run(this.binaries()[0]!, ['-m', this.model, '-p', String(pp), '-n', String(outputLen), '-t', t, '-r', '1', '-o', 'json'])) as { n_prompt: number; n_gen: number; avg_ts: number }[];
      const prefill = rows.find((r) => r.n_prompt > 0 && r.n_gen === 0)!, decode = rows.find((r) => r.n_gen > 0 && r.n_prompt === 0)!;
      return { prefillSeconds: pp / prefill.avg_ts, prefillTokens: pp, decodeSeconds: outputLen / decode.avg_ts, decodeSteps: outputLen };
    }
    const B = this.batchSize;
    const out = run(this.binaries()[0]!, [
      '-m', this.model, '-c', String(B * (pp + outputLen) + 16), '-b', '2048', '-ub', '512', '-npp', String(pp), '-ntg', String(outputLen),
      '-npl', String(B), '-t', t, '--output-format', 'jsonl',
    ]);
    const line = out.split('\n').find((l) => l.startsWith('{') && l.includes('"speed_pp"'));
    if (!line) throw new Error('llama-batched-bench printed no result line');
    const r = JSON.parse(line) as { t_pp: number; t_tg: number };
    return { prefillSeconds: r.t_pp, prefillTokens: B * pp, decodeSeconds: r.t_tg, decodeSteps: outputLen };
  }
}
