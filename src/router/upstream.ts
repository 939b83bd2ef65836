// Requests to workers over node:http with kept-alive connections. Node's fetch (undici, WHATWG
// streams) cost ~1 ms more per request than this on the router's hot path.

import http from 'node:http';
import https from 'node:https';

export interface UpstreamResponse {
  status: number;
  ok: boolean;
  headers: http.IncomingHttpHeaders;
  /** The body as it arrives. */
  body: AsyncIterable<Buffer>;
  /** Reads the whole body as text. */
  text(): Promise<string>;
  /** Drops the body unread (the connection is reused if it can be). */
  discard(): void;
}

// Idle connections close after 30 s, before a tsllm worker's own 72 s, so a reused one is rarely one
// the worker is closing at that moment.
const AGENT = { keepAlive: true, maxSockets: 1024, timeout: 30_000 };
const agents = { http: new http.Agent(AGENT), https: new https.Agent(AGENT) };

export function upstream(url: string, o: { method: string; headers: Record<string, string>; body?: Buffer; signal: AbortSignal }): Promise<UpstreamResponse> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(u, {
      method: o.method, agent: u.protocol === 'https:' ? agents.https : agents.http, signal: o.signal,
      headers: { ...o.headers, ...(o.body ? { 'content-length': String(o.body.byteLength) } : {}) },
    }, (res) => {
      const status = res.statusCode ?? 502;
      // A reset after the answer began reaches whoever reads the body; unread, it must not go unhandled.
      res.on('error', () => {});
      resolve({
        status, ok: status >= 200 && status < 300, headers: res.headers, body: res,
        async text() {
          let s = '';
          for await (const chunk of res) s += chunk;
          return s;
        },
        discard: () => void res.resume(),
      });
    });
    req.on('error', reject);
    req.setNoDelay(true);
    req.end(o.body);
  });
}
