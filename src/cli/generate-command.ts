// tsllm generate: one prompt in, streamed text (or one JSON object) out.

import fs from 'node:fs';
import { Command } from 'commander';
import { UsageError } from '../util/errors.js';
import { MODEL_FLAG_DEFAULT, withBuiltinModel } from './builtin-model.js';
import { BUILTIN_PROMPT, LOAD_FORMATS, type LoadFormat } from '../model/load-model.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import type { ChatMessage } from '../model/tokenizer/chat-template.js';
import { chatPromptIds } from '../model/tokenizer/chat-prompt.js';
import type { KVCacheDTypeOption } from '../engine/engine-config.js';
import { kvCacheDtypeOption } from './engine-flags.js';
import { addBackendOptions, modelOptions, type BackendFlags } from './backend-options.js';
import { addSamplingOptions, pickSamplingFlags, type SamplingFlags } from './sampling-options.js';
import { LLM } from '../engine/llm.js';
import { addParallelOptions, parallelFromFlags, type ParallelFlags } from './parallel-flags.js';
import type { SampleOutput } from '../engine/async-engine.js';
import { makeSamplingParams, type SamplingParamsInput } from '../engine/sampling/sampling-params.js';
import type { TokenLogprobs } from '../engine/sampling/sampler.js';
import { collect, parseFloatArg, parseIdList, parseIntArg, runCommand } from './run-command.js';

interface GenerateFlags extends BackendFlags, SamplingFlags, ParallelFlags {
  model?: string;
  loadFormat: LoadFormat;
  tokenizer?: string;
  prompt?: string;
  promptIds?: number[];
  chat?: string;
  system?: string;
  user?: string;
  maxTokens: number;
  maxModelLen?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  minTokens?: number;
  stop?: string[];
  stopTokenIds?: number[];
  ignoreEos?: boolean;
  logprobs?: number;
  n: number;
  kvCache: boolean;
  kvCacheDtype: KVCacheDTypeOption;
  json?: boolean;
}

export function generateCommand(): Command {
  return addParallelOptions(addSamplingOptions(addBackendOptions(new Command('generate'))))
    .description('generate text from one prompt, streaming it to stdout')
    .option('-m, --model <model>', 'Hugging Face folder, .gguf file, llama2.c .bin, or Hub id ORG/NAME[@REV] ' + MODEL_FLAG_DEFAULT)
    .option('--load-format <format>', `how to read --model: ${LOAD_FORMATS.join(', ')} (dummy: random weights of a preset)`, 'auto')
    .option('--tokenizer <path>', 'tokenizer folder (tokenizer.json) or llama2.c tokenizer.bin, instead of the model\'s own')
    .option('-p, --prompt <text>', `prompt text (BOS added as the tokenizer config says; default with the built-in model: "${BUILTIN_PROMPT}")`)
    .option('--prompt-ids <ids>', 'prompt as comma-separated token ids', parseIdList('--prompt-ids'))
    .option('--chat <file>', 'JSON file with a list of {role, content} messages, rendered with the chat template')
    .option('--system <text>', 'system message (chat)')
    .option('--user <text>', 'user message (chat)')
    .option('--max-tokens <n>', 'most tokens to generate', parseIntArg('--max-tokens'), 128)
    .option('--max-model-len <n>', 'longest prompt + output (default: the model\'s context)', parseIntArg('--max-model-len'))
    .option('--repetition-penalty <r>', 'penalize tokens of the prompt and output (1 = off)', parseFloatArg('--repetition-penalty'))
    .option('--presence-penalty <v>', 'OpenAI presence penalty', parseFloatArg('--presence-penalty'))
    .option('--frequency-penalty <v>', 'OpenAI frequency penalty', parseFloatArg('--frequency-penalty'))
    .option('--seed <n>', 'same seed, same tokens', parseIntArg('--seed'))
    .option('--min-tokens <n>', 'generate at least n tokens before EOS or stops count', parseIntArg('--min-tokens'))
    .option('--stop <text>', 'stop string (repeatable); never part of the output', collect)
    .option('--stop-token-ids <ids>', 'comma-separated token ids that end generation', parseIdList('--stop-token-ids'))
    .option('--ignore-eos', 'keep generating past EOS')
    .option('--logprobs <n>', 'report the top-n logprobs of each generated token (with --json)', parseIntArg('--logprobs'))
    .option('-n, --n <n>', 'completions to generate', parseIntArg('--n'), 1)
    .option('--no-kv-cache', 'recompute the whole sequence for every token (slow: shows what the KV cache buys)')
    .addOption(kvCacheDtypeOption())
    .option('--json', 'print one JSON object per completion instead of streaming text')
    .action((flags: GenerateFlags) => runCommand(() => generate(flags)));
}

async function generate(f: GenerateFlags): Promise<void> {
  const builtin = f.model === undefined;
  let inputs = [f.prompt !== undefined, f.promptIds !== undefined, f.chat !== undefined, f.user !== undefined].filter(Boolean).length;
  if (builtin && inputs === 0) {
    f = { ...f, prompt: BUILTIN_PROMPT };
    inputs = 1;
  }
  if (inputs !== 1) throw new UsageError('give exactly one of --prompt, --prompt-ids, --chat FILE, or --user (with optional --system)');
  const run = withBuiltinModel(f);
  if (f.threads !== undefined && f.threads < 1) throw new UsageError('--threads must be at least 1');
  // One engine (in its worker), as `LLM` gives every library user; the completions run one after
  // another, completion i drawing from seed + i as the engine's n samples do.
  const llm = new LLM({
    ...modelOptions(run), ...parallelFromFlags(f),
    kvCacheDtype: f.kvCacheDtype, kvCache: f.kvCache, maxNumSeqs: 1, ...(f.maxModelLen ? { maxModelLen: f.maxModelLen } : {}),
  }, null);
  try {
    const info = await llm.info();
    const tokenizer = await llm.tokenizer();
    const promptIds = buildPrompt(f, tokenizer, info.source);
    const params = makeSamplingParams({ ...info.generationDefaults, ...samplingFlags(f) });
    for (let i = 0; i < params.n; i++) {
      const one = { ...samplingFlags(f), n: 1, ...(params.seed !== undefined ? { seed: params.seed + i } : {}) };
      if (!f.json && params.n > 1) process.stdout.write(`${i > 0 ? '\n' : ''}--- completion ${i + 1} of ${params.n} ---\n`);
      const outs: SampleOutput[] = [];
      for await (const o of llm.stream(promptIds, one)) {
        outs.push(o);
        if (!f.json) process.stdout.write(tokenizer ? o.text : o.tokenIds.map((t) => `${t} `).join(''));
      }
      if (f.json) process.stdout.write(JSON.stringify(toJson(outs, promptIds.length, params.logprobs !== undefined, params.n > 1 ? i : undefined)) + '\n');
      else process.stdout.write('\n');
    }
  } finally {
    await llm.close();
  }
}

function samplingFlags(f: GenerateFlags): SamplingParamsInput {
  const s: SamplingParamsInput = {
    maxTokens: f.maxTokens, n: f.n,
    ...pickSamplingFlags(f, ['temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'presencePenalty', 'frequencyPenalty', 'seed', 'minTokens', 'stop', 'stopTokenIds', 'logprobs']),
  };
  if (f.ignoreEos) s.ignoreEos = true;
  return s;
}

function buildPrompt(f: GenerateFlags, tok: Tokenizer | null, source: string): number[] {
  if (f.promptIds) return f.promptIds;
  if (!tok) throw new UsageError(`${source} has no tokenizer: pass --tokenizer, or give the prompt as --prompt-ids`);
  if (f.prompt !== undefined) return tok.encode(f.prompt);
  let messages: ChatMessage[];
  if (f.chat) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(f.chat, 'utf8'));
    } catch (e) {
      throw new UsageError(`--chat ${f.chat}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not valid JSON'}`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { messages?: unknown })?.messages;
    if (!Array.isArray(list) || list.some((x) => typeof x?.role !== 'string' || typeof x?.content !== 'string')) {
      throw new UsageError(`--chat ${f.chat}: expected a list of {"role": ..., "content": ...} messages`);
    }
    messages = list as ChatMessage[];
  } else {
    messages = [...(f.system !== undefined ? [{ role: 'system', content: f.system }] : []), { role: 'user', content: f.user! }];
  }
  if (!tok.chatTemplate) process.stderr.write(`tsllm: ${source} has no chat template, so the messages are continued as plain text\n`);
  return chatPromptIds(tok, messages);
}

function toJson(outs: readonly SampleOutput[], promptTokens: number, logprobs: boolean, index?: number) {
  const last = outs[outs.length - 1]!;
  const t = last.timeline!;
  const tokenIds = outs.flatMap((o) => o.tokenIds);
  const lp: TokenLogprobs[] = outs.flatMap((o) => o.logprobs ?? []);
  const firstToken = t.firstToken ?? t.finished!;
  return {
    ...(index !== undefined ? { index } : {}),
    text: outs.map((o) => o.text).join(''),
    token_ids: tokenIds,
    logprobs: logprobs ? lp : null,
    finish_reason: last.finishReason,
    usage: { prompt_tokens: promptTokens, completion_tokens: tokenIds.length },
    timings: {
      ttft_ms: round(firstToken - t.arrival),
      tpot_ms: round(tokenIds.length > 1 ? (t.finished! - firstToken) / (tokenIds.length - 1) : 0),
      total_ms: round(t.finished! - t.arrival),
    },
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
