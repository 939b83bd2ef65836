// tsllm pull against a local server on 127.0.0.1 that answers as the Hub does (model info, file tree,
// resolve with Range). Checks the cache layout, resuming a broken download, reuse of the cache,
// HF_TOKEN, HF_HUB_OFFLINE, generate --model ORG/NAME end to end, and calc fetching config.json alone.
// Nothing touches the internet.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, modelDir } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/make-model.js';
import { tsllmAsync } from '../helpers/cli.js';

const REPO = 'test-org/stories260K';
const COMMIT = 'a'.repeat(40);
const FILES: Record<string, string> = {
  'config.json': path.join(modelDir('stories260K'), 'config.json'),
  'generation_config.json': path.join(modelDir('stories260K'), 'generation_config.json'),
  'model.safetensors': path.join(modelDir('stories260K'), 'model.safetensors'),
  'tokenizer.json': path.join(FIXTURES, 'tokenizers', 'tok512', 'tokenizer.json'),
  'tokenizer_config.json': path.join(FIXTURES, 'tokenizers', 'tok512', 'tokenizer_config.json'),
  'README.md': path.join(FIXTURES, 'README.md'),
};

describe('Hub download', () => {
  let server: http.Server;
  let endpoint: string;
  let cache: string;
  const log: { url: string; range?: string; auth?: string }[] = [];
  let breakNextWeights = true;

  before(async () => {
    cache = tempDir('tsllm-hub-');
    server = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      log.push({ url: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
      if (url.pathname === `/api/models/${REPO}/revision/main`) return json(res, { id: REPO, sha: COMMIT });
      if (url.pathname === `/api/models/${REPO}/tree/${COMMIT}`) {
        return json(res, Object.entries(FILES).map(([p, f]) => {
          const data = fs.readFileSync(f);
          const oid = crypto.createHash('sha1').update(data).digest('hex');
          return p.endsWith('.safetensors')
            ? { type: 'file', path: p, size: data.length, oid, lfs: { oid: crypto.createHash('sha256').update(data).digest('hex'), size: data.length } }
            : { type: 'file', path: p, size: data.length, oid };
        }));
      }
      const prefix = `/${REPO}/resolve/${COMMIT}/`;
      if (url.pathname.startsWith(prefix) && FILES[url.pathname.slice(prefix.length)]) {
        const name = url.pathname.slice(prefix.length);
        const data = fs.readFileSync(FILES[name]!);
        const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
        const start = range ? Number(range[1]) : 0;
        const headers = { 'Content-Length': String(data.length - start), ...(range ? { 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}) };
        res.writeHead(range ? 206 : 200, headers);
        if (name === 'model.safetensors' && breakNextWeights) {
          // Send a third of the file, then drop the connection, as a flaky network would.
          breakNextWeights = false;
          res.write(data.subarray(start, start + Math.floor(data.length / 3)), () => res.destroy());
          return;
        }
        return res.end(data.subarray(start));
      }
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'Repository not found' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    fs.rmSync(cache, { recursive: true, force: true });
  });

  const env = (extra: NodeJS.ProcessEnv = {}) => ({ HF_ENDPOINT: endpoint, HF_HOME: cache, HF_HUB_CACHE: '', HUGGINGFACE_HUB_CACHE: '', HF_TOKEN: 'hf_test', ...extra });
  const storage = () => path.join(cache, 'hub', 'models--test-org--stories260K');

  it('calc --model ORG/NAME fetches config.json alone into the Hub cache, with the full folder\'s figures', async () => {
    const r = await tsllmAsync(['calc', '--model', REPO, '--json'], env());
    assert.equal(r.code, 0, r.stderr);
    const fetched = log.filter((l) => l.url.includes('/resolve/')).map((l) => path.basename(l.url));
    assert.deepEqual(fetched, ['config.json'], 'no weights or tokenizer downloaded');
    assert.deepEqual(fs.readdirSync(path.join(storage(), 'snapshots', COMMIT)), ['config.json']);
    const full = await tsllmAsync(['calc', '--model', modelDir('stories260K'), '--json'], env());
    assert.deepEqual({ ...JSON.parse(r.stdout), model: '' }, { ...JSON.parse(full.stdout), model: '' });
  });

  it('resumes a broken download, writes the Hub cache layout, then reuses it', async () => {
    const first = await tsllmAsync(['pull', REPO], env());
    assert.equal(first.code, 1, 'the broken transfer fails');
    assert.match(first.stderr, /^tsllm: error: .*(incomplete|terminated|fetch failed|other side closed)/m);
    const partial = fs.readdirSync(path.join(storage(), 'blobs')).find((f) => f.endsWith('.incomplete'));
    assert.ok(partial, 'a partial blob is kept');

    const second = await tsllmAsync(['pull', REPO], env());
    assert.equal(second.code, 0, second.stderr);
    const snapshot = path.join(storage(), 'snapshots', COMMIT);
    assert.equal(second.stdout.trim(), snapshot);
    const weightRequests = log.filter((l) => l.url.endsWith('/model.safetensors'));
    assert.match(weightRequests.at(-1)!.range ?? '', /^bytes=\d+-$/, 'the second run asked only for the rest');
    assert.ok(log.every((l) => l.auth === 'Bearer hf_test'), 'HF_TOKEN is sent');
    assert.equal(fs.readFileSync(path.join(storage(), 'refs', 'main'), 'utf8'), COMMIT);
    assert.ok(fs.lstatSync(path.join(snapshot, 'model.safetensors')).isSymbolicLink());
    assert.deepEqual(fs.readFileSync(path.join(snapshot, 'model.safetensors')), fs.readFileSync(FILES['model.safetensors']!));
    assert.ok(!fs.existsSync(path.join(snapshot, 'README.md')), 'only what a model needs');

    const before = log.length;
    const third = await tsllmAsync(['pull', REPO], env());
    assert.equal(third.code, 0);
    assert.ok(log.slice(before).every((l) => !l.url.includes('/resolve/')), 'nothing downloaded again');
  });

  it('HF_HUB_OFFLINE uses the cache only, and generate takes a Hub id', async () => {
    const before = log.length;
    const r = await tsllmAsync(['generate', '--model', REPO, '--prompt', 'Once upon a time', '--max-tokens', '8', '--temperature', '0'], env({ HF_HUB_OFFLINE: '1' }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^, there was a little girl/);
    assert.equal(log.length, before, 'no request while offline');
    const missing = await tsllmAsync(['pull', 'test-org/other'], env({ HF_HUB_OFFLINE: '1' }));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /test-org\/other: not in the Hub cache .* HF_HUB_OFFLINE is set/);
  });
});

function json(res: http.ServerResponse, body: unknown): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
