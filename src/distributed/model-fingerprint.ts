// What every rank must agree on before joining: the model's config and its tensor list (each tensor's
// place, format and shape), hashed. Two ranks that loaded different files, or the same file with
// different quantization, get different fingerprints.

import { createHash } from 'node:crypto';
import type { ModelConfig } from '../model/config.js';
import type { ModelWeights } from '../model/weights.js';

export function modelFingerprint(config: ModelConfig, weights: ModelWeights): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(config));
  const walk = (v: unknown, path: string): void => {
    if (v === null || v === undefined) return;
    if (ArrayBuffer.isView(v)) {
      h.update(`${path}:${v.byteLength};`);
      return;
    }
    if (typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if ('dtype' in o && 'shape' in o && 'data' in o) {
      h.update(`${path}:${String(o.dtype)}[${(o.shape as number[]).join(',')}];`);
      return;
    }
    for (const k of Object.keys(o).sort()) walk(o[k], `${path}.${k}`);
  };
  walk(weights, 'w');
  return h.digest('hex');
}
