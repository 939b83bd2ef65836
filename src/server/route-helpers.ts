// What the routes share: body validation and the ready-model check.

import type { z } from 'zod';
import { OpenAIError, fromZodError } from './openai-error.js';
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
