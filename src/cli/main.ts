#!/usr/bin/env node
// tsllm's command line.

import { Command } from 'commander';
import { generateCommand } from './generate-command.js';
import { chatCommand } from './chat-command.js';
import { pullCommand } from './pull-command.js';
import { quantizeCommand } from './quantize-command.js';
import { benchCommand } from './bench-command.js';
import { serveCommand } from './serve-command.js';
import { calcCommand } from './calc-command.js';
import { envCommand } from './env-command.js';
import { TSLLM_VERSION } from '../util/version.js';
import { expandParallelShorthands } from './parallel-flags.js';
import { workerCommand } from './worker-command.js';
import { routerCommand } from './router-command.js';

const program = new Command('tsllm')
  .description('LLM inference in TypeScript: load a model (HF folder, GGUF, llama2.c, Hub id) and generate')
  .version(TSLLM_VERSION)
  .showHelpAfterError()
  .addCommand(generateCommand())
  .addCommand(chatCommand())
  .addCommand(serveCommand())
  .addCommand(pullCommand())
  .addCommand(quantizeCommand())
  .addCommand(benchCommand())
  .addCommand(calcCommand())
  .addCommand(envCommand())
  .addCommand(workerCommand())
  .addCommand(routerCommand());

await program.parseAsync(expandParallelShorthands(process.argv));
