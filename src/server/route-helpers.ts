// What the routes share: body validation, the ready-model check, and prompts given as text or ids.

import type { z } from 'zod';
import { OpenAIError, fromZodError, invalidRequest } from './openai-error.js';
import type { ServerContext } from './server-context.js';

export interface RouteHelpers {
  /** The loaded engine, or a 503 while loading; a 404 when `model` names another model. */
  context(model?: string | null): ServerContext;
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  if (body === undefined || body === null || typeof body !== 'object') {
    throw new OpenAIError(400, 'the request body must be a JSON object', 'invalid_request_error');
  }
  const r = schema.safeParse(body);
  if (!r.success) throw fromZodError(r.error);
  return r.data;
}

/** One prompt or a list, as text or token ids, as token-id lists; `field` names it in errors. */
export function promptInputIds(ctx: ServerContext, p: string | string[] | number[] | number[][], field: string): number[][] {
  const vocab = ctx.engine.info.model.vocabSize;
  const checkIds = (ids: number[]) => {
    const bad = ids.find((t) => t >= vocab);
    if (bad !== undefined) throw invalidRequest(`token id ${bad} is outside the vocabulary (0..${vocab - 1})`, field);
    return ids;
  };
  const encode = (s: string) => {
    if (!ctx.tokenizer) throw invalidRequest(`this model has no tokenizer: give the ${field} as token ids`, field);
    const ids = ctx.tokenizer.encode(s);
    if (ids.length === 0) throw invalidRequest(`the ${field} is empty`, field);
    return ids;
  };
  if (typeof p === 'string') return [encode(p)];
  if (p.length > 0 && typeof p[0] === 'number') return [checkIds(p as number[])];
  if (typeof p[0] === 'string') return (p as string[]).map(encode);
  return (p as number[][]).map(checkIds);
}
