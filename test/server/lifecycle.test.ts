// The server's life: it answers /health with 503 while the model loads, and `tsllm serve` on SIGTERM
// finishes the requests in flight before it exits.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AsyncEngine } from '../../src/engine/async-engine.js';
import { DEMO, startServer } from '../helpers/server.js';
import { startServe, waitHealthy } from '../helpers/serve-process.js';

describe('server lifecycle', () => {
  it('is unhealthy (503) until the model is loaded, then healthy', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const engine = gate.then(() => AsyncEngine.start(DEMO));
    const s = await startServer(engine, { servedModelName: 'demo' }, false);
    try {
      const loading = await fetch(`${s.url}/health`);
      assert.equal(loading.status, 503);
      const models = await fetch(`${s.url}/v1/models`);
      assert.equal(models.status, 503);
      assert.equal((await models.json()).error.code, 'model_loading');
      release();
      await s.server.ready;
      assert.equal((await fetch(`${s.url}/health`)).status, 200);
    } finally {
      await s.close();
    }
  });

  it('tsllm serve drains a stream in flight on SIGTERM, then exits 0', async () => {
    const { child, url, exited, logs } = await startServe(['-m', 'demo', '--load-format', 'dummy', '--kv-cache-memory', '32MiB', '--kv-cache-dtype', 'int4', '--served-model-name', 'demo']);
    await waitHealthy(url);
    const r = await fetch(`${url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo', prompt: 'tell me', max_tokens: 300, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
    });
    const reader = r.body!.getReader();
    let body = new TextDecoder().decode((await reader.read()).value);
    child.kill('SIGTERM');
    for (let x = await reader.read(); !x.done; x = await reader.read()) body += new TextDecoder().decode(x.value);
    assert.match(body, /"finish_reason":"length"/);
    assert.match(body, /"completion_tokens":300/);
    assert.ok(body.trimEnd().endsWith('data: [DONE]'));
    assert.equal(await exited, 0);
    assert.match(logs(), /draining requests in flight/);
    assert.match(logs(), /"msg":"engine ready"/);
    // demo: 4 layers x 2 KV heads of 32 -> int4 records of 18 bytes, 288 bytes a token: 7,281 blocks in 32 MiB.
    assert.match(logs(), /"kvCacheDtype":"int4","kvCacheBlocks":7281,"blockSize":16,"kvCacheTokens":116496/, 'the start-up log gives the capacity at the dtype');
  });
});
