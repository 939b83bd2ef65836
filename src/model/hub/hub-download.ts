// Downloads a model from the Hugging Face Hub into the standard Hub cache layout
// (models--ORG--NAME/{blobs,snapshots/COMMIT,refs}), so tsllm, transformers and vLLM share one cache.
// @huggingface/hub answers the API questions (which commit, which files); the transfer is ours
// because the library's downloader can neither resume a broken download nor report progress.
// Honours HF_HOME / HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE and HF_ENDPOINT.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listFiles, modelInfo } from '@huggingface/hub';
import cliProgress from 'cli-progress';
import { ModelLoadError, UsageError } from '../../util/errors.js';

export interface HubOptions {
  cacheDir?: string;
  endpoint?: string;
  token?: string;
  offline?: boolean;
  /** Show a progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** The files to fetch (default: what a model needs); `tsllm calc` asks for config.json alone. */
  files?: RegExp;
}

export interface HubRef {
  repo: string;
  revision: string;
}

const COMMIT_HASH = /^[0-9a-f]{40}$/;
// What a model needs; pytorch .bin, onnx and other variants are left on the Hub.
const WANTED = /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|tokenizer\.model|model\.safetensors\.index\.json|[^/]*\.safetensors)$/;

export function parseHubId(id: string): HubRef {
  const m = /^([\w.-]+\/[\w.-]+)(?:@([\w./-]+))?$/.exec(id);
  if (!m) throw new UsageError(`"${id}" is not a Hub id (expected ORG/NAME or ORG/NAME@REVISION)`);
  return { repo: m[1]!, revision: m[2] ?? 'main' };
}

export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  // Empty variables count as unset, as in huggingface_hub.
  return env['HF_HUB_CACHE'] || env['HUGGINGFACE_HUB_CACHE'] ||
    path.join(env['HF_HOME'] || path.join(env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache'), 'huggingface'), 'hub');
}

function defaults(opts: HubOptions): Required<Omit<HubOptions, 'token' | 'files'>> & { token: string | undefined } {
  const offline = opts.offline ?? ['1', 'true', 'yes', 'on'].includes((process.env['HF_HUB_OFFLINE'] ?? '').toLowerCase());
  return {
    cacheDir: opts.cacheDir ?? hubCacheDir(),
    endpoint: (opts.endpoint ?? (process.env['HF_ENDPOINT'] || 'https://huggingface.co')).replace(/\/$/, ''),
    token: opts.token ?? (process.env['HF_TOKEN'] || undefined),
    offline,
    progress: opts.progress ?? process.stderr.isTTY === true,
  };
}

function repoFolder(cacheDir: string, repo: string): string {
  return path.join(cacheDir, `models--${repo.replace('/', '--')}`);
}

/** The cached snapshot of a revision, or null. */
function cachedSnapshot(storage: string, revision: string): string | null {
  let commit = revision;
  if (!COMMIT_HASH.test(revision)) {
    const ref = path.join(storage, 'refs', revision);
    if (!fs.existsSync(ref)) return null;
    commit = fs.readFileSync(ref, 'utf8').trim();
  }
  const dir = path.join(storage, 'snapshots', commit);
  return fs.existsSync(path.join(dir, 'config.json')) ? dir : null;
}

/** Downloads (or finds in the cache) a model and returns its snapshot folder. */
export async function pullModel(id: string, options: HubOptions = {}): Promise<string> {
  const { repo, revision } = parseHubId(id);
  const o = defaults(options);
  const storage = repoFolder(o.cacheDir, repo);
  if (o.offline) {
    const dir = cachedSnapshot(storage, revision);
    if (!dir) throw new ModelLoadError(id, `not in the Hub cache (${o.cacheDir}) and HF_HUB_OFFLINE is set`);
    return dir;
  }

  const credentials = o.token ? { accessToken: o.token } : {};
  let commit: string;
  const files: { path: string; size: number; etag: string }[] = [];
  try {
    const info = await modelInfo({ name: repo, revision, hubUrl: o.endpoint, additionalFields: ['sha'], ...credentials });
    commit = (info as { sha?: string }).sha ?? revision;
    for await (const f of listFiles({ repo, revision: commit, recursive: true, hubUrl: o.endpoint, ...credentials })) {
      if (f.type !== 'file' || !(options.files ?? WANTED).test(f.path)) continue;
      files.push({ path: f.path, size: f.lfs?.size ?? f.size, etag: f.lfs?.oid ?? f.oid ?? f.path });
    }
  } catch (e) {
    const cached = cachedSnapshot(storage, revision);
    if (cached) return cached; // the Hub is unreachable, but this revision was downloaded before
    throw new ModelLoadError(id, `cannot reach the Hub at ${o.endpoint}: ${(e as Error).message}`);
  }
  if (!files.some((f) => f.path === 'config.json')) throw new ModelLoadError(id, `the repository has no config.json at ${revision}`);

  const snapshot = path.join(storage, 'snapshots', commit);
  const todo = files.filter((f) => !fs.existsSync(path.join(snapshot, f.path)));
  const total = todo.reduce((s, f) => s + f.size, 0);
  const bar = o.progress && total > 0
    ? new cliProgress.SingleBar({ format: `${repo} [{bar}] {percentage}% | {value}/{total} bytes | {file}`, stream: process.stderr }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(total, 0, { file: '' });
  let done = 0;
  try {
    for (const f of todo) {
      const blob = path.join(storage, 'blobs', f.etag);
      if (!fs.existsSync(blob)) {
        await downloadBlob(`${o.endpoint}/${repo}/resolve/${commit}/${f.path}`, blob, f.size, o.token, (n) => bar?.update(done + n, { file: f.path }));
      }
      done += f.size;
      bar?.update(done, { file: f.path });
      const link = path.join(snapshot, f.path);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.rmSync(link, { force: true });
      fs.symlinkSync(path.relative(path.dirname(link), blob), link);
    }
  } finally {
    bar?.stop();
  }
  if (!COMMIT_HASH.test(revision) || revision !== commit) {
    fs.mkdirSync(path.join(storage, 'refs'), { recursive: true });
    fs.writeFileSync(path.join(storage, 'refs', revision), commit);
  }
  return snapshot;
}

/** Streams one file into blobs/ETAG, resuming a partial `.incomplete` download with a Range request. */
async function downloadBlob(url: string, blob: string, size: number, token: string | undefined, progress: (bytes: number) => void): Promise<void> {
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  const partial = `${blob}.incomplete`;
  let have = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
  if (have > size) {
    fs.rmSync(partial);
    have = 0;
  }
  const headers: Record<string, string> = {};
  if (token) headers['Authorization'] = `Bearer ${token}`;
  if (have > 0) headers['Range'] = `bytes=${have}-`;
  let res: Response;
  try {
    res = await fetch(url, { headers, redirect: 'follow' });
  } catch (e) {
    throw new ModelLoadError(url, `download failed: ${(e as Error).message}`);
  }
  if (res.status === 416 && have === size) {
    fs.renameSync(partial, blob);
    return;
  }
  if (!res.ok || !res.body) throw new ModelLoadError(url, `download failed: HTTP ${res.status}`);
  if (have > 0 && res.status !== 206) have = 0; // the server ignored the range: start over
  const out = fs.createWriteStream(partial, { flags: have > 0 ? 'a' : 'w' });
  let written = have;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      written += chunk.length;
      progress(written);
    }
  } catch (e) {
    throw new ModelLoadError(url, `download interrupted after ${written} of ${size} bytes (${(e as Error).message}); run again to resume`);
  } finally {
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  if (written !== size) throw new ModelLoadError(url, `download incomplete: ${written} of ${size} bytes (run again to resume)`);
  fs.renameSync(partial, blob);
}

/** For loadModel: Hub ids become local snapshot folders. */
export function resolveHubModel(id: string): Promise<string> {
  return pullModel(id);
}
