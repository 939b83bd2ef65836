// A command-line option whose value is JSON (vLLM's --kv-transfer-config, --kv-events-config):
// parsed and checked against a schema, every problem named after the option.

import type { z } from 'zod';
import { UsageError } from './errors.js';

export function parseJsonOption<T extends z.ZodTypeAny>(option: string, json: string, schema: T): z.infer<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new UsageError(`${option} is not JSON: ${(e as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new UsageError(`${option}: ${r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}`);
  return r.data;
}
