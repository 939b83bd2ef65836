// tsllm chat: an interactive conversation in the terminal, streamed through the model's chat template.
// Ctrl-C ends the reply being written, not the program; on a pipe (no terminal) each line of stdin is
// one message and SIGINT does the same, so scripts and tests drive it as a person would.

import readline from 'node:readline';
import { Command } from 'commander';
import { LOAD_FORMATS, type LoadFormat } from '../model/load-model.js';
import type { KVCacheDTypeOption } from '../engine/engine-config.js';
import { LLM } from '../engine/llm.js';
import type { SamplingParamsInput } from '../engine/sampling/sampling-params.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import { UsageError } from '../util/errors.js';
import { addBackendOptions, modelOptions, type BackendFlags } from './backend-options.js';
import { addSamplingOptions, pickSamplingFlags, type SamplingFlags } from './sampling-options.js';
import { MODEL_FLAG_DEFAULT, withBuiltinModel } from './builtin-model.js';
import { Conversation } from './chat-conversation.js';
import { kvCacheDtypeOption } from './engine-flags.js';
import { parseIntArg, runCommand } from './run-command.js';

interface ChatFlags extends BackendFlags, SamplingFlags {
  model?: string;
  loadFormat: LoadFormat;
  tokenizer?: string;
  system?: string;
  maxTokens?: number;
  maxModelLen?: number;
  seed?: number;
  ignoreEos?: boolean;
  kvCacheDtype: KVCacheDTypeOption;
}

const HELP = `commands: /system TEXT (set the system message), /reset (forget the conversation), /exit (or Ctrl-D); Ctrl-C stops a reply\n`;

export function chatCommand(): Command {
  return addSamplingOptions(addBackendOptions(new Command('chat')))
    .description('chat with a model in the terminal, through its chat template')
    .option('-m, --model <model>', 'Hugging Face folder, .gguf file, llama2.c .bin, Hub id, or preset (with --load-format dummy) ' + MODEL_FLAG_DEFAULT)
    .option('--load-format <format>', `how to read --model: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .option('--tokenizer <path>', 'tokenizer folder or file, instead of the model\'s own')
    .option('--system <text>', 'system message')
    .option('--max-tokens <n>', 'longest reply (default: the rest of the context)', parseIntArg('--max-tokens'))
    .option('--max-model-len <n>', 'longest conversation (default: the model\'s context)', parseIntArg('--max-model-len'))
    .option('--seed <n>', 'same seed, same replies', parseIntArg('--seed'))
    .option('--ignore-eos', 'keep writing past EOS, to --max-tokens or the context')
    .addOption(kvCacheDtypeOption())
    .action((flags: ChatFlags) => runCommand(() => chat(flags)));
}

async function chat(f: ChatFlags): Promise<void> {
  const run = withBuiltinModel(f);
  const llm = new LLM({
    ...modelOptions(run),
    kvCacheDtype: f.kvCacheDtype, maxNumSeqs: 1, ...(f.maxModelLen ? { maxModelLen: f.maxModelLen } : {}),
  });
  const tty = process.stdin.isTTY === true;
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: tty, prompt: '>>> ' });
  // Listening from the start: lines piped in while the model loads are kept, not dropped.
  const lines = lineQueue(rl);
  try {
    const info = await llm.info();
    const tok = await llm.tokenizer();
    if (!tok) throw new UsageError(`${info.source} has no tokenizer: pass --tokenizer`);
    process.stderr.write(tok.chatTemplate
      ? `tsllm: chatting with ${info.source}. ${HELP}`
      : `tsllm: ${info.source} has no chat template, so each reply continues the conversation as plain text. ${HELP}`);
    await converse(llm, tok, info.maxSequenceTokens, f, rl, lines, tty);
  } finally {
    rl.close();
    await llm.close();
  }
}

type Lines = ReturnType<typeof lineQueue>;

async function converse(llm: LLM, tok: Tokenizer, contextTokens: number, f: ChatFlags, rl: readline.Interface, lines: Lines, tty: boolean): Promise<void> {
  const conversation = new Conversation(f.system ?? null);
  let replying: string | null = null;
  const interrupt = () => {
    if (replying) void llm.abort(replying);
    else if (tty) {
      rl.write(null, { ctrl: true, name: 'u' });
      process.stdout.write('\n(/exit or Ctrl-D to leave)\n');
      rl.prompt();
    } else lines.close();
  };
  rl.on('SIGINT', interrupt);
  process.on('SIGINT', interrupt);
  try {
    for (let turn = 0; ; turn++) {
      if (tty) rl.prompt();
      const line = await lines.next();
      if (line === null) return;
      const text = line.trim();
      if (text === '') continue;
      if (text.startsWith('/')) {
        if (!command(text, conversation)) return;
        continue;
      }
      let prompt;
      try {
        prompt = conversation.prompt(tok, text, contextTokens - 1);
      } catch (e) {
        process.stderr.write(`tsllm: ${(e as Error).message}\n`);
        continue;
      }
      if (prompt.dropped > 0) process.stderr.write(`tsllm: the conversation outgrew the context; the oldest ${prompt.dropped} turn(s) are forgotten\n`);
      replying = `chat-${turn}`;
      try {
        const reply = await streamReply(llm, prompt.ids, samplingFor(f, contextTokens - prompt.ids.length), replying);
        conversation.addTurn(text, reply);
      } catch (e) {
        process.stderr.write(`tsllm: ${(e as Error).message}\n`);
      } finally {
        replying = null;
      }
    }
  } finally {
    process.off('SIGINT', interrupt);
  }
}

/** Handles a /command; false means leave. */
function command(text: string, conversation: Conversation): boolean {
  const [name, ...rest] = text.split(/\s+/);
  const arg = text.slice(name!.length).trim();
  switch (name) {
    case '/exit': case '/quit': case '/bye':
      return false;
    case '/reset': case '/clear':
      conversation.reset();
      process.stderr.write('(conversation forgotten)\n');
      return true;
    case '/system':
      conversation.system = rest.length > 0 ? arg : null;
      process.stderr.write(rest.length > 0 ? '(system message set)\n' : '(system message removed)\n');
      return true;
    default:
      process.stderr.write(name === '/help' ? HELP : `unknown command ${name}; ${HELP}`);
      return true;
  }
}

function samplingFor(f: ChatFlags, room: number): SamplingParamsInput {
  return {
    maxTokens: Math.max(1, Math.min(f.maxTokens ?? room, room)),
    ...pickSamplingFlags(f, ['temperature', 'topK', 'topP', 'minP', 'seed']), ...(f.ignoreEos ? { ignoreEos: true } : {}),
  };
}

/** Writes the reply as it comes, then its speed on stderr; returns its text (what was written if stopped). */
async function streamReply(llm: LLM, promptIds: number[], params: SamplingParamsInput, requestId: string): Promise<string> {
  let text = '';
  let tokens = 0;
  for await (const o of llm.stream(promptIds, params, { requestId })) {
    process.stdout.write(o.text);
    text += o.text;
    tokens += o.tokenIds.length;
    if (!o.finishReason) continue;
    const t = o.timeline!;
    const first = t.firstToken ?? t.finished!;
    const tps = tokens > 1 ? (tokens - 1) / ((t.finished! - first) / 1000) : 0;
    process.stdout.write('\n');
    process.stderr.write(`[${o.finishReason === 'abort' ? 'stopped, ' : ''}${tokens} tokens, ${tps.toFixed(1)} tokens/s, TTFT ${(first - t.arrival).toFixed(0)} ms]\n`);
  }
  return text;
}

/** stdin's lines, one at a time; null once it ends. */
function lineQueue(rl: readline.Interface): { next(): Promise<string | null>; close(): void } {
  const queued: string[] = [];
  let ended = false;
  let waiter: ((l: string | null) => void) | null = null;
  const wake = () => {
    if (!waiter) return;
    if (queued.length > 0) waiter(queued.shift()!);
    else if (ended) waiter(null);
    else return;
    waiter = null;
  };
  rl.on('line', (l) => { queued.push(l); wake(); });
  rl.on('close', () => { ended = true; wake(); });
  return {
    next: () => new Promise((resolve) => { waiter = resolve; wake(); }),
    close: () => { ended = true; queued.length = 0; wake(); },
  };
}
