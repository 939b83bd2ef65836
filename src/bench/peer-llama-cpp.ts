// The peer in benchmarks: llama.cpp through the node-llama-cpp npm package and its prebuilt CPU
// binary. It is not a dependency of tsllm: the first benchmark that names it installs it into an
// ignored folder (.cache/peers), the linux-x64 binary package only.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LatencyRunner, LatencySample } from './latency.js';

export const PEER_VERSION = '3.22.1';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const PEER_DIR = process.env.TSLLM_PEER_DIR ?? path.join(REPO_ROOT, '.cache', 'peers', `node-llama-cpp-${PEER_VERSION}`);

type Any = any;

function ensureInstalled(log: (m: string) => void): string {
  const entry = path.join(PEER_DIR, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  if (fs.existsSync(entry)) return entry;
  log(`installing node-llama-cpp@${PEER_VERSION} (llama.cpp's prebuilt CPU binary) into ${PEER_DIR}`);
  fs.mkdirSync(PEER_DIR, { recursive: true });
  fs.writeFileSync(path.join(PEER_DIR, 'package.json'), JSON.stringify({ name: 'tsllm-peer', private: true }));
  const r = spawnSync('npm', [
    'install', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=optional',
    `node-llama-cpp@${PEER_VERSION}`, `@node-llama-cpp/linux-x64@${PEER_VERSION}`,
  ], { cwd: PEER_DIR, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !fs.existsSync(entry)) throw new Error(`could not install node-llama-cpp into ${PEER_DIR} (npm exited with ${r.status})`);
  return entry;
}

export class LlamaCppLatencyRunner implements LatencyRunner {
  readonly name: string;

  private constructor(
    private readonly model: Any,
    private readonly context: Any,
    private readonly sequences: Any[],
    version: string,
  ) {
    this.name = `llama.cpp (node-llama-cpp ${version})`;
  }

  static async create(modelPath: string, opts: { threads: number; batchSize: number; contextPerSequence: number; log: (m: string) => void }): Promise<LlamaCppLatencyRunner> {
    const mod: Any = await import(pathToFileURL(ensureInstalled(opts.log)).href);
    const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: 'error' });
    const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    const context = await model.createContext({
      contextSize: opts.contextPerSequence * opts.batchSize,
      sequences: opts.batchSize,
      batchSize: Math.max(512, opts.batchSize),
      threads: opts.threads,
    });
    const sequences = Array.from({ length: opts.batchSize }, () => context.getSequence());
    return new LlamaCppLatencyRunner(model, context, sequences, PEER_VERSION);
  }

  // Prefill evaluates all prompt tokens but the last; decode then evaluates the last prompt token and
  // outputLen - 1 generated ones: outputLen one-token steps, as tsllm's runner takes.
  async runOnce(prompts: number[][], outputLen: number): Promise<LatencySample> {
    await Promise.all(this.sequences.map((s) => s.clearHistory()));
    let t = performance.now();
    await Promise.all(this.sequences.map((s, b) => s.evaluateWithoutGeneratingNewTokens(prompts[b]!.slice(0, -1))));
    const prefillSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await Promise.all(this.sequences.map(async (s, b) => {
      let n = 0;
      for await (const token of s.evaluate([prompts[b]!.at(-1)], { temperature: 0 })) {
        void token;
        if (++n >= outputLen) break;
      }
    }));
    const decodeSeconds = (performance.now() - t) / 1000;
    return { prefillSeconds, prefillTokens: prompts.length * (prompts[0]!.length - 1), decodeSeconds, decodeSteps: outputLen };
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}
