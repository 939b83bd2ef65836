// Loading reports each layer quantized and packed; the command line turns that into a bar on a
// terminal (a pseudo-terminal from util-linux's `script`) and prints nothing of it on a pipe.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { it } from 'node:test';
import { AsyncEngine } from '../../src/engine/async-engine.js';
import type { LoadProgress } from '../../src/engine/engine-protocol.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { tsllm } from '../helpers/cli.js';

it('reports every layer quantized, then every layer packed, in order', async () => {
  const events: LoadProgress[] = [];
  const engine = await AsyncEngine.start({ model: 'demo', loadFormat: 'dummy', quantization: 'Q8_0', kvCacheMemory: 8 << 20 }, undefined, (p) => events.push(p));
  await engine.close();
  const layers = (stage: string) => events.filter((e) => e.stage === stage).map((e) => `${e.done}/${e.total}`);
  assert.deepEqual(layers('quantizing'), ['1/4', '2/4', '3/4', '4/4']);
  assert.deepEqual(layers('packing weights'), ['1/4', '2/4', '3/4', '4/4']);
  assert.ok(events.every((e) => e.model === 'target'));
  assert.equal(events.findIndex((e) => e.stage === 'packing weights'), 4, 'quantizing comes first');
});

const ARGS = ['generate', '-m', 'demo', '--load-format', 'dummy', '--quantization', 'Q8_0', '--prompt-ids', '1,2', '--max-tokens', '2'];

it('a terminal shows the loading bar; a pipe gets none of it', () => {
  const piped = tsllm(ARGS);
  assert.equal(piped.code, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, /loading|\x1b\[/);
  const cli = [process.execPath, path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'), ...ARGS].map((a) => `'${a}'`).join(' ');
  const tty = spawnSync('script', ['-qec', cli, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(tty.status, 0, tty.stderr);
  assert.match(tty.stdout, /loading \[=+\] quantizing 4\/4 layers/);
  assert.match(tty.stdout, /loading \[=+\] packing weights 4\/4 layers/);
});
