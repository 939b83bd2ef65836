// The sampling flags that `generate` and `chat` share: temperature and the truncations of the
// distribution, unset unless given (the model's generation_config.json then decides).

import type { Command } from 'commander';
import type { SamplingParamsInput } from '../engine/sampling/sampling-params.js';
import { parseFloatArg, parseIntArg } from './run-command.js';

export interface SamplingFlags {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
}

export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .option('--temperature <t>', '0 = greedy (default: generation_config.json, else 1)', parseFloatArg('--temperature'))
    .option('--top-k <k>', '0 = off', parseIntArg('--top-k'))
    .option('--top-p <p>', 'nucleus sampling', parseFloatArg('--top-p'))
    .option('--min-p <p>', 'drop tokens below p x the top probability', parseFloatArg('--min-p'));
}

/** The given sampling flags among `keys`, as sampling parameters. */
export function pickSamplingFlags<F extends object>(f: F, keys: readonly (keyof F & keyof SamplingParamsInput)[]): SamplingParamsInput {
  const s: Record<string, unknown> = {};
  for (const k of keys) if (f[k] !== undefined) s[k] = f[k];
  return s as SamplingParamsInput;
}
