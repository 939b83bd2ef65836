// A tsllm server in this process on a free port, with the official openai client pointed at it.

import OpenAI from 'openai';
import path from 'node:path';
import { AsyncEngine } from '../../src/engine/async-engine.js';
import type { EngineOptions } from '../../src/engine/engine-options.js';
import { createServer, type ServerOptions, type TsllmServer } from '../../src/server/server.js';
import { FIXTURES, modelDir } from './fixtures.js';

export interface TestServer {
  server: TsllmServer;
  url: string;
  client: OpenAI;
  close(): Promise<void>;
}

export const STORIES: EngineOptions = { model: modelDir('stories260K'), tokenizer: path.join(FIXTURES, 'tokenizers', 'tok512'), kvCacheMemory: 8 << 20 };
export const DEMO: EngineOptions = { model: 'demo', loadFormat: 'dummy', kvCacheMemory: 32 << 20 };

/** Listens on a free port; waits for the model unless `waitForModel` is false. */
export async function startServer(engine: EngineOptions | Promise<AsyncEngine>, options: ServerOptions = {}, waitForModel = true): Promise<TestServer> {
  const server = createServer(engine instanceof Promise ? engine : AsyncEngine.start(engine), { logger: false, ...options });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  if (waitForModel) await server.ready;
  const address = server.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: options.apiKey ?? 'unused', maxRetries: 0 });
  return { server, url, client, close: () => server.close() };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, json, headers: r.headers };
}

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One sample's value from Prometheus text, e.g. metric('tsllm:request_success_total', {finished_reason: 'abort'}). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^([^{ ]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}
