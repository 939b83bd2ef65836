// One streamed request to an OpenAI-compatible server, timed the way load generators time it: TTFT at
// the first chunk with content, an inter-token gap between each pair of content chunks, end-to-end at
// [DONE]; token counts from the server's usage chunk (include_usage) when it sends one.

export type Endpoint = 'completions' | 'chat';

export interface StreamRequest {
  baseUrl: string;
  endpoint: Endpoint;
  model: string;
  /** Token ids work with /v1/completions only. */
  prompt: string | number[];
  maxTokens: number;
  apiKey?: string;
  /** Extra body fields (ignore_eos, temperature...). */
  extra?: Record<string, unknown>;
  /** Cuts the stream; the record keeps the gaps seen until then. */
  signal?: AbortSignal;
}

export interface RequestRecord {
  ok: boolean;
  error?: string;
  /** performance.now() at send, ms. */
  start: number;
  ttftMs: number;
  /** Gaps between consecutive content chunks, ms. */
  itlMs: number[];
  e2eMs: number;
  promptTokens: number;
  outputTokens: number;
  text: string;
}

export async function streamRequest(r: StreamRequest): Promise<RequestRecord> {
  const start = performance.now();
  const rec: RequestRecord = { ok: false, start, ttftMs: 0, itlMs: [], e2eMs: 0, promptTokens: 0, outputTokens: 0, text: '' };
  const body = r.endpoint === 'chat'
    ? { model: r.model, messages: [{ role: 'user', content: r.prompt }], max_tokens: r.maxTokens, stream: true, stream_options: { include_usage: true }, ...r.extra }
    : { model: r.model, prompt: r.prompt, max_tokens: r.maxTokens, stream: true, stream_options: { include_usage: true }, ...r.extra };
  try {
    const res = await fetch(`${r.baseUrl.replace(/\/$/, '')}/v1/${r.endpoint === 'chat' ? 'chat/completions' : 'completions'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(r.apiKey ? { authorization: `Bearer ${r.apiKey}` } : {}) },
      body: JSON.stringify(body),
      ...(r.signal ? { signal: r.signal } : {}),
    });
    if (!res.ok || !res.body) {
      rec.error = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
      return rec;
    }
    const decoder = new TextDecoder();
    let buffer = '';
    let last = 0;
    let chunks = 0;
    let done = false;
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(piece, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('');
        if (data === '') continue;
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const json = JSON.parse(data);
        if (json.error) throw new Error(json.error.message ?? 'error event');
        if (json.usage) {
          rec.promptTokens = json.usage.prompt_tokens ?? 0;
          rec.outputTokens = json.usage.completion_tokens ?? 0;
        }
        const choice = json.choices?.[0];
        const text: string = choice ? (r.endpoint === 'chat' ? (choice.delta?.content ?? '') : (choice.text ?? '')) : '';
        if (text === '') continue;
        const now = performance.now();
        if (chunks === 0) rec.ttftMs = now - start;
        else rec.itlMs.push(now - last);
        last = now;
        chunks++;
        rec.text += text;
      }
    }
    if (!done) throw new Error('the stream ended without [DONE]');
    rec.e2eMs = performance.now() - start;
    if (rec.outputTokens === 0) rec.outputTokens = chunks;
    rec.ok = true;
  } catch (e) {
    rec.error = (e as Error).message;
  }
  return rec;
}
