// The model a command runs when no --model is given: the built-in stories260K, said so on stderr so
// that nobody mistakes its children's stories for their own model's output.

import { BUILTIN_MODEL } from '../model/load-model.js';
import { UsageError } from '../util/errors.js';

export const MODEL_FLAG_DEFAULT = '(default: the built-in stories260K)';

/** The flags with --model filled in by the built-in model when absent. */
export function withBuiltinModel<F extends { model?: string; loadFormat?: string }>(f: F): F & { model: string } {
  if (f.model !== undefined) return f as F & { model: string };
  if (f.loadFormat === 'dummy') throw new UsageError('--load-format dummy needs --model PRESET (e.g. --model demo)');
  process.stderr.write(
    'tsllm: no --model given, so this is the built-in stories260K (Karpathy\'s llama2.c, 260K parameters trained on ' +
    'children\'s stories, MIT). Pass --model with a Hugging Face folder, a .gguf file, a llama2.c .bin or a Hub id ' +
    '(ORG/NAME) for another model.\n');
  return { ...f, model: BUILTIN_MODEL };
}
