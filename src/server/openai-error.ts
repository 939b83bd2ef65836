// Errors in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with the HTTP status the
// official clients map to their error classes. Everything a client can get wrong is a 4xx; a 500
// means a bug in tsllm.

import type { z } from 'zod';

export class OpenAIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Seconds, for 429/503. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'OpenAIError';
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new OpenAIError(400, message, 'invalid_request_error', param, code);

/** The first problem zod found, naming the field. */
export function fromZodError(error: z.ZodError): OpenAIError {
  const issue = error.issues[0]!;
  const param = issue.path.map(String).join('.') || null;
  const message = issue.code === 'invalid_type' && issue.message.includes('undefined') ? `'${param}' is a required property` : `${param ? `'${param}': ` : ''}${issue.message}`;
  return invalidRequest(message, param);
}
