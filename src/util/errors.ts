// Errors a user can act on: they name the file and the problem, and the CLI prints them as one line.

export class ModelLoadError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'ModelLoadError';
  }
}

/** A problem with what the user asked for (flags, prompt, sampling parameters). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
