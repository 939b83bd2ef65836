// Runs a CLI action and turns the errors a user can fix into one line on stderr and a non-zero exit,
// with no stack trace (TSLLM_DEBUG=1 shows it).

import { InvalidArgumentError } from 'commander';
import { ModelLoadError, UsageError } from '../util/errors.js';

export async function runCommand(action: () => Promise<void> | void): Promise<void> {
  try {
    await action();
  } catch (e) {
    const known = e instanceof ModelLoadError || e instanceof UsageError;
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`tsllm: error: ${message}\n`);
    if (process.env['TSLLM_DEBUG'] && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    process.exitCode = known ? 1 : 2;
  }
}

export function parseIntArg(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${what} must be an integer, got "${v}"`);
    return n;
  };
}

export function parseFloatArg(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be a number, got "${v}"`);
    return n;
  };
}

export function parseIdList(what: string) {
  return (v: string): number[] =>
    v.split(',').filter((s) => s.trim() !== '').map((s) => {
      const n = Number(s.trim());
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${what} must be comma-separated token ids, got "${v}"`);
      return n;
    });
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
