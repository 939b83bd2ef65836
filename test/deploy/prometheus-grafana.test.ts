// A real Prometheus scrapes a tsllm server under load, and every query of the Grafana dashboard in
// deploy/ returns data through Prometheus's HTTP API. Needs the `prometheus` binary (Debian's
// package; .ci/run installs it and sets TSLLM_REQUIRE_PROMETHEUS=1, so CI fails rather than skips).

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { DEMO, eventually, startServer } from '../helpers/server.js';
import { freePort } from '../helpers/serve-process.js';

const PROMETHEUS = process.env['TSLLM_PROMETHEUS'] ?? 'prometheus';
const found = spawnSync(PROMETHEUS, ['--version'], { encoding: 'utf8' }).status === 0;
const required = process.env['TSLLM_REQUIRE_PROMETHEUS'] === '1';
const skip = !found && !required ? `no ${PROMETHEUS} on this machine (apt-get install prometheus; .ci/run does)` : false;

/** The dashboard's PromQL, with its template variables as Grafana would fill them. */
function dashboardQueries(): { title: string; expr: string }[] {
  const dash = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'grafana', 'dashboards', 'tsllm.json'), 'utf8'));
  return dash.panels.flatMap((p: any) => p.targets.map((t: any) => ({
    title: `${p.title} / ${t.legendFormat}`,
    expr: (t.expr as string).replaceAll('$model_name', '.*').replaceAll('$__rate_interval', '20s'),
  })));
}

describe('Prometheus and the Grafana dashboard', { skip }, () => {
  it('every dashboard query returns data from a server under load', { timeout: 120_000 }, async () => {
    assert.ok(found, `${PROMETHEUS} is required here (TSLLM_REQUIRE_PROMETHEUS=1) but was not found`);
    // Two sequences at a time and room for about 450 tokens (int8 KV: 544 bytes a token): requests
    // queue, and long ones get preempted.
    // n-gram speculation with 1-token matches: the demo's byte-level text repeats bytes, so drafts
    // are proposed (and verified inside the batch, under preemption) throughout.
    const s = await startServer({ ...DEMO, maxNumSeqs: 2, kvCacheMemory: 450 * 544, kvCacheDtype: 'int8', blockSize: 16, speculativeMethod: 'ngram', promptLookupMin: 1 }, { servedModelName: 'demo' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsllm-prom-'));
    const promPort = await freePort();
    const target = new URL(s.url).host;
    fs.writeFileSync(path.join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tsllm\n    static_configs:\n      - targets: ['${target}']\n`);
    let prom: ChildProcess | null = null;
    try {
      prom = spawn(PROMETHEUS, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: 'ignore' });
      const api = `http://127.0.0.1:${promPort}/api/v1`;
      await eventually(async () => {
        // Prometheus answers 503 in plain text until its storage is ready.
        const t = await fetch(`${api}/targets`).then((r) => (r.ok ? r.json() : null)).catch(() => null);
        return t?.data?.activeTargets?.some((x: any) => x.health === 'up') ? true : undefined;
      }, 30_000);

      // Load for a while: shared-prefix prompts (prefix-cache hits), long and short outputs.
      const prefix = 'You are a storyteller. Tell a story about a dragon and a knight. '.repeat(3);
      const deadline = Date.now() + 8000;
      const worker = async (w: number) => {
        for (let i = 0; Date.now() < deadline; i++) {
          const stream = await s.client.completions.create({ model: 'demo', prompt: `${prefix}${w}-${i}`, max_tokens: 20 + ((w * 37 + i * 11) % 200), ignore_eos: true, stream: true } as any);
          for await (const _ of stream as any) { /* consume */ }
        }
      };
      // Two long requests side by side need ~2 x 300 tokens of the ~450 the cache holds: one preemption
      // at least, however fast this machine runs the timed load below.
      const long = (tag: string) => s.client.completions.create({ model: 'demo', prompt: `${prefix}${tag}`, max_tokens: 250, ignore_eos: true } as any);
      await Promise.all([long('a'), long('b')]);
      await Promise.all([0, 1, 2, 3, 4].map(worker));
      await new Promise((r) => setTimeout(r, 2500));

      const names = await fetch(`${api}/label/model_name/values?match[]=tsllm:num_requests_running`).then((r) => r.json());
      assert.deepEqual(names.data, ['demo'], 'the dashboard\'s model variable has a value');
      for (const q of dashboardQueries()) {
        const r = await fetch(`${api}/query?query=${encodeURIComponent(q.expr)}`).then((x) => x.json());
        assert.equal(r.status, 'success', `${q.title}: ${JSON.stringify(r)}`);
        const values = (r.data.result as { value: [number, string] }[]).map((x) => Number(x.value[1]));
        assert.ok(values.some((v) => Number.isFinite(v)), `${q.title}: no data for ${q.expr} -> ${JSON.stringify(r.data.result)}`);
      }
      const info = await fetch(`${api}/query?query=${encodeURIComponent('tsllm:cache_config_info')}`).then((x) => x.json());
      assert.equal(info.data.result[0].metric.cache_dtype, 'int8');
      assert.equal(info.data.result[0].metric.capacity_tokens, '448');
      const drafts = await fetch(`${api}/query?query=${encodeURIComponent('tsllm:spec_decode_num_draft_tokens_total')}`).then((x) => x.json());
      assert.ok(Number(drafts.data.result[0].value[1]) > 0, 'drafts were verified');
      const preempted = await fetch(`${api}/query?query=${encodeURIComponent('tsllm:num_preemptions_total')}`).then((x) => x.json());
      assert.ok(Number(preempted.data.result[0].value[1]) > 0, 'the tight cache preempted');
    } finally {
      prom?.kill('SIGTERM');
      await s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
