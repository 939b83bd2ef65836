// The main job as a user runs it: the built-in stories260K with no arguments, --json output, chat
// input, and the same weights from a real folder.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES, REPO_ROOT, modelDir, readJson } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/make-model.js';
import { tsllm } from '../helpers/cli.js';
import { nativeAddon } from '../helpers/backends.js';

it('with no arguments, the built-in stories260K tells run.c\'s greedy story for "Once upon a time"', () => {
  const r = tsllm(['generate', '--max-tokens', '64']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /built-in stories260K.*--model/s);
  const golden = readJson(path.join(modelDir('stories260K'), 'golden.json'));
  const once = golden.prompted.find((p: { prompt_text: string }) => p.prompt_text === 'Once upon a time');
  assert.equal(r.stdout, `${once.text_runc_decode}\n`);
  // Sampling at temperature 1: the same seed, the same story; another seed, another.
  const seeded = (seed: string) => tsllm(['generate', '--max-tokens', '24', '--temperature', '1', '--seed', seed]).stdout;
  assert.equal(seeded('3'), seeded('3'));
  assert.notEqual(seeded('3'), seeded('4'));
});

it('--json prints the documented object, with logprobs and timings', () => {
  const r = tsllm(['generate', '--model', modelDir('stories260K'), '--tokenizer', path.join(FIXTURES, 'tokenizers', 'tok512'),
    '--prompt', 'Once upon a time', '--max-tokens', '16', '--temperature', '0', '--logprobs', '2', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const golden = readJson(path.join(modelDir('stories260K'), 'golden.json'));
  assert.deepEqual(out.token_ids, golden.prompted[0].runc_greedy_new_tokens.slice(0, 16));
  assert.match(out.text, /^, there was a little girl/);
  assert.equal(out.finish_reason, 'length');
  assert.deepEqual(out.usage, { prompt_tokens: 5, completion_tokens: 16 });
  assert.equal(out.logprobs.length, 16);
  assert.deepEqual(Object.keys(out.logprobs[0]).sort(), ['logprob', 'token_id', 'top']);
  assert.equal(out.logprobs[0].top.length, 2);
  for (const k of ['ttft_ms', 'tpot_ms', 'total_ms']) assert.ok(out.timings[k] >= 0, k);
});

it('--chat renders the chat template and --stop ends the text', () => {
  const dir = tempDir();
  try {
    const chat = path.join(dir, 'chat.json');
    fs.writeFileSync(chat, JSON.stringify([{ role: 'user', content: 'hi' }]));
    const r = tsllm(['generate', '--model', 'demo', '--load-format', 'dummy', '--chat', chat, '--max-tokens', '4', '--seed', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).usage.prompt_tokens, Buffer.byteLength('user: hi\nassistant: '));
    const stopped = tsllm(['generate', '--model', modelDir('stories260K'), '--tokenizer', path.join(FIXTURES, 'tokenizers', 'tok512'),
      '--prompt', 'Once upon a time', '--temperature', '0', '--stop', 'girl', '--json']);
    const out = JSON.parse(stopped.stdout);
    assert.equal(out.text, ', there was a little ');
    assert.equal(out.finish_reason, 'stop');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('rejects bad flags with one line', () => {
  const r = tsllm(['generate', '--prompt', 'x', '--temperature', 'hot']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--temperature must be a number/);
  const both = tsllm(['generate', '--prompt', 'x', '--prompt-ids', '1']);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /^tsllm: error: give exactly one of --prompt/);
  const topP = tsllm(['generate', '--prompt', 'x', '--top-p', '2']);
  assert.equal(topP.code, 1);
  assert.match(topP.stderr, /invalid sampling parameter topP/);
});

describe('tsllm env and TSLLM_ISA', { skip: !nativeAddon() }, () => {
  it('says which kernel build runs and why, and TSLLM_ISA forces one', () => {
    const best = nativeAddon()!.cpuIsa();
    const r = tsllm(['env'], { HF_HUB_CACHE: '/tmp/some-hub-cache' });
    assert.equal(r.code, 0, r.stderr);
    const version = readJson(path.join(REPO_ROOT, 'package.json')).version;
    assert.match(r.stdout, new RegExp(`^tsllm ${version.replace(/\./g, '\\.')}, node v\\d+`));
    assert.match(r.stdout, /^hub cache: \/tmp\/some-hub-cache /m);
    assert.equal(tsllm(['--version']).stdout.trim(), version);
    assert.match(r.stdout, new RegExp(`kernels: native-${best}, the fastest build this CPU runs`));
    assert.match(r.stdout, /generic\s+runs here/);
    const forced = tsllm(['env'], { TSLLM_ISA: 'generic' });
    assert.match(forced.stdout, /kernels: native-generic, forced by TSLLM_ISA=generic/);
    const gen = tsllm(['generate', '--prompt-ids', '1,2,3', '--max-tokens', '2', '--json', '--temperature', '0'], { TSLLM_ISA: 'generic' });
    assert.equal(gen.code, 0, gen.stderr);
    const missing = nativeAddon()!.isaVariants().find((v) => !v.runnable);
    if (missing) assert.match(tsllm(['env'], { TSLLM_ISA: missing.name }).stderr, new RegExp(`this CPU lacks ${missing.missing}`));
    const bad = tsllm(['env'], { TSLLM_ISA: 'sse9' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /TSLLM_ISA=sse9: no such kernel build; one of avx512, avxvnni, avx2, generic/);
  });
});
