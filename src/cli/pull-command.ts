// tsllm pull ORG/NAME[@REVISION]: download a model into the Hub cache.

import { Command } from 'commander';
import { pullModel } from '../model/hub/hub-download.js';
import { runCommand } from './run-command.js';

export function pullCommand(): Command {
  return new Command('pull')
    .description('download a model from the Hugging Face Hub into the Hub cache (HF_HOME, HF_TOKEN, HF_HUB_OFFLINE, HF_ENDPOINT)')
    .argument('<model>', 'ORG/NAME or ORG/NAME@REVISION')
    .action((model: string) =>
      runCommand(async () => {
        const dir = await pullModel(model);
        process.stdout.write(`${dir}\n`);
      }));
}
