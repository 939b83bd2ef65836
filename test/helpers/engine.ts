// Drives an EngineCore synchronously to the end and gathers each request's tokens and text.

import type { EngineCore } from '../../src/engine/engine-core.js';
import type { RequestOutput } from '../../src/engine/output/output-processor.js';
import type { SamplingParams } from '../../src/engine/sampling/sampling-params.js';

export interface Collected {
  tokens: number[];
  text: string;
  finish: RequestOutput | null;
}

export function runToCompletion(core: EngineCore, onStep?: (step: number) => void, maxSteps = 1_000_000): Map<string, Collected> {
  const out = new Map<string, Collected>();
  for (let step = 0; core.hasWork; step++) {
    if (step >= maxSteps) throw new Error(`engine still busy after ${maxSteps} steps`);
    onStep?.(step);
    for (const o of core.step()) {
      const c = out.get(o.requestId) ?? { tokens: [], text: '', finish: null };
      c.tokens.push(...o.tokenIds);
      c.text += o.text;
      if (o.finishReason) c.finish = o;
      out.set(o.requestId, c);
    }
  }
  return out;
}

export interface OneResult {
  tokenIds: number[];
  text: string;
  /** The text of each step's output, in order. */
  chunks: string[];
  logprobs: NonNullable<RequestOutput['logprobs']>;
  finishReason: RequestOutput['finishReason'];
  stopReason: RequestOutput['stopReason'];
}

/** Runs one request through a fresh step loop and returns what it produced. */
export function generateOne(core: EngineCore, promptIds: number[], params: SamplingParams, sampleIndex = 0): OneResult {
  const id = `one-${nextOne++}`;
  core.addRequest({ id, promptIds, params, sampleIndex });
  const r: OneResult = { tokenIds: [], text: '', chunks: [], logprobs: [], finishReason: null, stopReason: null };
  while (core.hasWork) {
    for (const o of core.step()) {
      if (o.requestId !== id) continue;
      r.tokenIds.push(...o.tokenIds);
      r.chunks.push(o.text);
      r.text += o.text;
      r.logprobs.push(...(o.logprobs ?? []));
      if (o.finishReason) {
        r.finishReason = o.finishReason;
        r.stopReason = o.stopReason;
      }
    }
  }
  return r;
}
let nextOne = 0;
