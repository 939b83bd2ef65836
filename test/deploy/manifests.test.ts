// The compose file and Kubernetes manifests name only flags the CLI has, start every worker and router
// the way the tests do, and probe readiness on /health.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tsllm } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

/** Each ['serve', ...] or ['router', ...] argument list in a file, as its command and its flags. */
function commands(file: string): { command: string; flags: string[] }[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'deploy', file), 'utf8');
  return [...text.matchAll(/\[\s*'(serve|router)'([^\]]*)\]/g)].map((m) => ({ command: m[1]!, flags: [...m[2]!.matchAll(/'(--[a-z-]+)'/g)].map((f) => f[1]!) }));
}

describe('deploy/', () => {
  const help = { serve: tsllm(['serve', '--help']).stdout, router: tsllm(['router', '--help']).stdout };

  for (const [file, want] of [['router-compose.yml', { serve: 1, router: 1 }], ['kubernetes/tsllm-pd.yaml', { serve: 2, router: 1 }]] as const) {
    it(`${file}: its commands use flags the CLI has`, () => {
      const cmds = commands(file);
      assert.equal(cmds.filter((c) => c.command === 'serve').length, want.serve);
      assert.equal(cmds.filter((c) => c.command === 'router').length, want.router);
      for (const c of cmds) {
        assert.ok(c.flags.length > 2, `${file}: ${c.command} has flags`);
        for (const f of c.flags) assert.ok(help[c.command as 'serve' | 'router'].includes(`${f} `) || help[c.command as 'serve' | 'router'].includes(`${f}\n`), `${file}: tsllm ${c.command} has no ${f}`);
      }
    });
  }

  it('the Kubernetes manifests probe readiness on /health for every role, and the router is disaggregated', () => {
    const text = fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'kubernetes', 'tsllm-pd.yaml'), 'utf8');
    const docs = text.split(/^---$/m);
    const deployments = docs.filter((d) => /kind: Deployment/.test(d));
    assert.equal(deployments.length, 3);
    for (const d of deployments) assert.match(d, /readinessProbe: \{ httpGet: \{ path: \/health/);
    assert.equal(docs.filter((d) => /kind: Service\b/.test(d)).length, 3);
    assert.match(text, /'--kv-transfer-role', 'prefill'/);
    assert.match(text, /'--kv-transfer-role', 'decode'/);
    assert.match(text, /'--pd', '--prefill', 'http:\/\/tsllm-prefill:8000', '--decode', 'http:\/\/tsllm-decode:8000'/);
  });
});
