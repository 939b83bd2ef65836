// Drives an EngineCore synchronously to the end and gathers each request's tokens and text.

import type { EngineCore, RequestOutput } from '../../src/engine/engine-core.js';

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
