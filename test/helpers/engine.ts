// Drives an EngineCore synchronously to the end and gathers each request's tokens and text.

import type { EngineCore } from '../../src/engine/engine-core.js';
import type { RequestOutput } from '../../src/engine/output/output-processor.js';
import type { SamplingParams } from '../../src/engine/sampling/sampling-params.js';

export interface Collected {
  tokens: number[];
  text: string;
  /** The text of each step's output, in order. */
  chunks: string[];
  logprobs: NonNullable<RequestOutput['logprobs']>;
  finish: RequestOutput | null;
}

export function runToCompletion(core: EngineCore, onStep?: (step: number) => void, maxSteps = 1_000_000): Map<string, Collected> {
  const out = new Map<string, Collected>();
  for (let step = 0; core.hasWork; step++) {
    if (step >= maxSteps) throw new Error(`engine still busy after ${maxSteps} steps`);
    onStep?.(step);
    for (const o of core.step()) {
      const c = out.get(o.requestId) ?? { tokens: [], text: '', chunks: [], logprobs: [], finish: null };
      c.tokens.push(...o.tokenIds);
      c.text += o.text;
      c.chunks.push(o.text);
      c.logprobs.push(...(o.logprobs ?? []));
      if (o.finishReason) c.finish = o;
      out.set(o.requestId, c);
    }
  }
  return out;
}

/** Runs one request through the step loop and returns what it produced. */
export function generateOne(core: EngineCore, promptIds: number[], params: SamplingParams, sampleIndex = 0) {
  core.addRequest({ id: 'one', promptIds, params, sampleIndex });
  const c = runToCompletion(core).get('one')!;
  return { tokenIds: c.tokens, text: c.text, chunks: c.chunks, logprobs: c.logprobs, finishReason: c.finish!.finishReason, stopReason: c.finish!.stopReason };
}
