// Requests for the router and data-parallel tests: a fixed mix of completions and chat, streamed and
// not, text and token-id prompts, sent with the official openai client; and the workers' /load.

import assert from 'node:assert/strict';
import OpenAI from 'openai';

export const MODEL = 'stories260K';
const OPENINGS = ['Once upon a time', 'The little dog', 'Lily wanted to', 'One day, a big', 'Tom and his mom', 'The sun was', 'A bird sat on', 'In the park'];

export interface MixedRequest {
  kind: 'completion' | 'completion-stream' | 'chat' | 'chat-stream';
  prompt: string | number[];
  maxTokens: number;
}

/** `preamble`: text before every text prompt, and as many extra tokens before token prompts (long prompts fill KV blocks). */
export function mixedRequests(n: number, preamble = ''): MixedRequest[] {
  const kinds = ['completion', 'completion-stream', 'chat', 'chat-stream'] as const;
  return Array.from({ length: n }, (_, i) => {
    const kind = kinds[i % 4]!;
    const text = `${preamble}${OPENINGS[i % OPENINGS.length]!}${' and'.repeat(i % 5)}`;
    const prompt = kind === 'completion' && i % 8 === 0 ? Array.from({ length: 6 + (i % 7) + Math.floor(preamble.length / 2) }, (_, k) => 1 + ((i * 31 + k * 17) % 500)) : text;
    return { kind, prompt, maxTokens: 3 + ((i * 7) % 20) };
  });
}

export async function send(client: OpenAI, r: MixedRequest): Promise<string> {
  const common = { model: MODEL, max_tokens: r.maxTokens, temperature: 0 };
  switch (r.kind) {
    case 'completion':
      return (await client.completions.create({ ...common, prompt: r.prompt })).choices[0]!.text;
    case 'completion-stream': {
      let text = '';
      for await (const c of await client.completions.create({ ...common, prompt: r.prompt, stream: true })) text += c.choices[0]?.text ?? '';
      return text;
    }
    case 'chat':
      return (await client.chat.completions.create({ ...common, messages: [{ role: 'user', content: r.prompt as string }] })).choices[0]!.message.content ?? '';
    case 'chat-stream': {
      let text = '';
      for await (const c of await client.chat.completions.create({ ...common, messages: [{ role: 'user', content: r.prompt as string }], stream: true })) text += c.choices[0]?.delta.content ?? '';
      return text;
    }
  }
}

/** Every request's text, `concurrency` in flight at a time. */
export async function sendAll(url: string, reqs: readonly MixedRequest[], concurrency = 16): Promise<string[]> {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const out: string[] = new Array(reqs.length);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < reqs.length) {
      const i = next++;
      out[i] = await send(client, reqs[i]!);
    }
  }));
  return out;
}

export interface Load {
  num_requests: number;
  kv_cache_usage: number;
  prefix_cache_queries: number;
  prefix_cache_hits: number;
  kv_audit: string[] | null;
}

export async function load(url: string): Promise<Load> {
  return (await fetch(`${url}/load`)).json() as Promise<Load>;
}

/** Waits until the server has nothing in flight, then checks its KV cache is empty and consistent. */
export async function assertDrained(url: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let l = await load(url);
  while ((l.num_requests > 0 || l.kv_audit === null) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    l = await load(url);
  }
  assert.equal(l.num_requests, 0, `${url} still has requests`);
  assert.equal(l.kv_cache_usage, 0, `${url} KV usage`);
  assert.deepEqual(l.kv_audit, [], `${url} KV audit`);
}

/**
 * `prompts.length` streams of up to `maxTokens` tokens, all at once; 3 in every 10 clients go away
 * after their `cutAfter`-th chunk. Returns how many went away.
 */
export async function streamsWithDisconnects(url: string, prompts: readonly string[], maxTokens: number, cutAfter: number): Promise<number> {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  let cut = 0;
  await Promise.all(prompts.map(async (prompt, i) => {
    const stream = await client.completions.create({ model: MODEL, prompt, max_tokens: maxTokens, temperature: 0, stream: true, ignore_eos: true } as OpenAI.CompletionCreateParamsStreaming);
    let chunks = 0;
    for await (const _ of stream) {
      if (++chunks === cutAfter && i % 10 < 3) {
        stream.controller.abort();
        cut++;
        break;
      }
    }
  }));
  return cut;
}
