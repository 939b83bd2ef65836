// A multi-process job lost a rank (it died, hung past the timeout, or its link broke): the model can
// no longer run, so the engine stops and the server answers 503 and exits instead of hanging.

export class WorldFailedError extends Error {
  constructor(reason: string) {
    super(`a rank of the parallel job failed: ${reason}`);
    this.name = 'WorldFailedError';
  }
}
