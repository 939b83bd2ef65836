// One API request through the engine: turn it away when the queue is full, submit each prompt (n
// samples each), merge their outputs into choices, and abort everything if the client goes away.

import type { FastifyReply } from 'fastify';
import type { SampleOutput } from '../engine/async-engine.js';
import type { SamplingParams } from '../engine/sampling/sampling-params.js';
import { invalidRequest, OpenAIError } from './openai-error.js';
import { parseKVTransferParams } from '../engine/kv-transfer/kv-transfer-config.js';
import type { ServerContext } from './server-context.js';

export interface PromptRun {
  promptIds: number[];
  params: SamplingParams;
}

export interface ChoiceOutput extends SampleOutput {
  /** OpenAI's choice index: prompt index x n + sample index. */
  choice: number;
  promptIndex: number;
}

/** Seconds a turned-away client is told to wait. */
const RETRY_AFTER_S = 1;

/** Turns the request away (503, Retry-After) when its sequences would overflow the queue. */
export function checkCapacity(ctx: ServerContext, sequences: number): void {
  const capacity = ctx.engine.info.config.maxNumSeqs + ctx.maxWaiting;
  if (ctx.engine.numInFlightSequences + sequences > capacity) {
    throw new OpenAIError(503, `The server is overloaded: ${ctx.engine.numInFlightSequences} sequences are in flight and the queue holds ${capacity}. Retry later.`,
      'server_overloaded', null, 'queue_full', RETRY_AFTER_S);
  }
}

/**
 * A client that disconnects (or times out) mid-request ends these requests at the next engine step;
 * call the returned function once the response is complete.
 */
export function abortOnDisconnect(ctx: ServerContext, reply: FastifyReply, ids: readonly string[]): () => void {
  let finished = false;
  reply.raw.on('close', () => {
    if (!finished && !reply.raw.writableFinished) for (const id of ids) ctx.engine.abort(id);
  });
  return () => (finished = true);
}

export function startGeneration(ctx: ServerContext, reply: FastifyReply, requestId: string, runs: PromptRun[], priority: number, kvTransferParams?: unknown): AsyncGenerator<ChoiceOutput> {
  const kvTransfer = parseKVTransferParams(kvTransferParams);
  if (kvTransfer && (runs.length > 1 || runs[0]!.params.n > 1)) throw invalidRequest('kv_transfer_params takes one prompt and n = 1', 'kv_transfer_params');
  checkCapacity(ctx, runs.reduce((n, r) => n + r.params.n, 0));
  const ids = runs.map((_, k) => (runs.length === 1 ? requestId : `${requestId}-${k}`));
  const streams = runs.map((run, k) => tag(ctx.engine.generate(run.promptIds, run.params, { requestId: ids[k]!, priority, ...(kvTransfer ? { kvTransfer } : {}) }), k, run.params.n));
  const done = abortOnDisconnect(ctx, reply, ids);
  const merged = mergeStreams(streams);
  return (async function* () {
    try {
      yield* merged;
    } finally {
      done();
    }
  })();
}

async function* tag(stream: AsyncIterable<SampleOutput>, promptIndex: number, n: number): AsyncGenerator<ChoiceOutput> {
  for await (const o of stream) yield { ...o, promptIndex, choice: promptIndex * n + o.index };
}

/** Interleaves several async iterables, yielding each item as soon as its source has it. */
export async function* mergeStreams<T>(sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  const pull = (i: number) => pending.set(i, iterators[i]!.next().then((r) => ({ i, r })));
  iterators.forEach((_, i) => pull(i));
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) pending.delete(i);
      else {
        pull(i);
        yield r.value;
      }
    }
  } finally {
    // Leaving early (an error, a disconnect) ends the sources that are still running.
    for (const [i] of pending) await iterators[i]!.return?.();
  }
}
