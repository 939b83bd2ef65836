// `tsllm chat` driven as a person would, through stdin as a pipe: turns that remember the ones before,
// /reset, /system, a template-less model continuing plain text, and SIGINT (Ctrl-C) ending a reply
// while the program goes on.

import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/make-model.js';
import { tsllm } from '../helpers/cli.js';

const STATS = /^\[(stopped, )?(\d+) tokens, [\d.]+ tokens\/s, TTFT \d+ ms\]$/m;

/** A running `tsllm chat`: say() sends a line and resolves with the reply once its stats line is out. */
class ChatProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'), 'chat', ...args], { env: { ...process.env, TSLLM_DEBUG: '' } });
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('close', resolve));
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  async say(line: string): Promise<{ reply: string; tokens: number; stopped: boolean }> {
    const [out, err] = [this.stdout.length, this.stderr.length];
    this.send(line);
    const stats = await this.until(() => STATS.exec(this.stderr.slice(err)) ?? undefined);
    // The reply is what stdout got since the line went in, less the newline that closes it. The chat
    // writes that newline before the stats line, but the two pipes reach this process in either order.
    await this.until(() => (this.stdout.slice(out).endsWith('\n') ? true : undefined));
    return { reply: this.stdout.slice(out).replace(/\n$/, ''), tokens: Number(stats[2]), stopped: stats[1] !== undefined };
  }

  async until<T>(check: () => T | undefined, ms = 60_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (this.child.exitCode !== null) throw new Error(`chat exited (${this.child.exitCode}): ${this.stderr}`);
      if (Date.now() > end) throw new Error(`timed out; stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async exit(): Promise<number | null> {
    this.child.stdin.end();
    return this.exited;
  }
}

const DEMO = ['-m', 'demo', '--load-format', 'dummy', '--temperature', '0', '--ignore-eos'];

/** What `tsllm generate` writes for these messages: the single-shot reference for one chat turn. */
function generated(messages: { role: string; content: string }[], maxTokens: number): string {
  const file = path.join(tempDir('chat-'), 'messages.json');
  fs.writeFileSync(file, JSON.stringify(messages));
  const r = tsllm(['generate', ...DEMO, '--max-tokens', String(maxTokens), '--chat', file]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.replace(/\n$/, '');
}

it('keeps the conversation across turns; /reset forgets it; /system sets the system message', async () => {
  const chat = new ChatProcess([...DEMO, '--max-tokens', '12']);
  try {
    const first = await chat.say('Hello there');
    assert.equal(first.tokens, 12);
    assert.equal(first.reply, generated([{ role: 'user', content: 'Hello there' }], 12));
    // The second reply answers the whole conversation, not the new message alone.
    const second = await chat.say('Tell me more');
    const conversation = [{ role: 'user', content: 'Hello there' }, { role: 'assistant', content: first.reply }, { role: 'user', content: 'Tell me more' }];
    assert.equal(second.reply, generated(conversation, 12));
    assert.notEqual(generated(conversation, 12), generated([{ role: 'user', content: 'Tell me more' }], 12));

    chat.send('/reset');
    const afresh = await chat.say('Tell me more');
    assert.equal(afresh.reply, generated([{ role: 'user', content: 'Tell me more' }], 12));

    chat.send('/reset');
    chat.send('/system Answer in rhymes');
    const withSystem = await chat.say('Tell me more');
    assert.equal(withSystem.reply, generated([{ role: 'system', content: 'Answer in rhymes' }, { role: 'user', content: 'Tell me more' }], 12));
    assert.match(chat.stderr, /conversation forgotten[\s\S]*system message set/);
    chat.send('/exit');
    assert.equal(await chat.exit(), 0);
  } finally {
    chat.child.kill();
  }
});

it('Ctrl-C (SIGINT) stops the reply being written, and the chat goes on', async () => {
  // The TypeScript kernels write the demo model's reply slowly enough (about 100 tokens/s) that the
  // interrupt surely lands in the middle of a reply that would otherwise fill the context.
  const chat = new ChatProcess([...DEMO, '--backend', 'reference']);
  try {
    await chat.until(() => (chat.stderr.includes('commands:') ? true : undefined));
    const before = chat.stdout.length;
    const reply = chat.say('Write forever');
    await chat.until(() => (chat.stdout.length > before ? true : undefined));
    chat.child.kill('SIGINT');
    const r = await reply;
    assert.equal(r.stopped, true);
    assert.ok(r.tokens > 0 && r.tokens < 1000, `${r.tokens} tokens`);
    assert.equal(chat.child.exitCode, null, 'still running after Ctrl-C');
    chat.send('/exit');
    assert.equal(await chat.exit(), 0);
  } finally {
    chat.child.kill();
  }
});

it('the built-in stories260K, which has no chat template, continues the text of the conversation', async () => {
  const chat = new ChatProcess(['--temperature', '0', '--max-tokens', '20']);
  try {
    const r = await chat.say('Once upon a time');
    assert.match(chat.stderr, /built-in stories260K[\s\S]*no chat template, so each reply continues the conversation as plain text/);
    const g = tsllm(['generate', '--prompt', 'Once upon a time', '--max-tokens', '20', '--temperature', '0']);
    assert.equal(r.reply, g.stdout.replace(/\n$/, ''));
    assert.equal(await chat.exit(), 0);
  } finally {
    chat.child.kill();
  }
});
