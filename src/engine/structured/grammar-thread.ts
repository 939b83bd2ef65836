// The grammar thread: xgrammar's compiler and one matcher per constrained sequence. Compiling a schema
// takes tens to hundreds of milliseconds, so it happens here, never on the engine's step loop; masks
// are computed here too, while the engine runs the next forward pass.

import { parentPort, workerData } from 'node:worker_threads';
import type { FromGrammar, GrammarThreadData, ToGrammar } from './grammar-protocol.js';
import { xgrammar } from './xgrammar-module.js';
import type { CompiledGrammar, GrammarCompiler, GrammarMatcher } from '@mlc-ai/web-xgrammar';
import { compileGrammar, errorText, warmCompiler } from './grammar-compile.js';
import { grammarKey } from './structured-outputs.js';

const port = parentPort!;
const data = workerData as GrammarThreadData;
const X = xgrammar();
const words = Math.ceil(data.vocabSize / 32);
const masks = new Int32Array(data.masks);
const epochs = new Int32Array(data.epochs);
const draftMasks = new Int32Array(data.draftMasks);
const draftCounts = new Int32Array(data.draftCounts);
const compiled = new Map<string, CompiledGrammar>();
const matchers = new Map<number, GrammarMatcher>();
const post = (m: FromGrammar) => port.postMessage(m);

const compiler: Promise<GrammarCompiler> = X.TokenizerInfo
  .createTokenizerInfo(data.pieces, data.encoding, false, data.vocabSize, data.stopTokenIds)
  .then((info) => X.GrammarCompiler.createGrammarCompiler(info, true))
  .then(async (c) => {
    compiled.set(grammarKey({ type: 'json_object' }), await warmCompiler(c));
    return c;
  });

async function writeMask(slot: number, epoch: number): Promise<void> {
  const m = matchers.get(slot);
  // A matcher past its stop token (a request that ignores EOS) has no next mask: allow nothing, which
  // the sampler turns into EOS only.
  if (m?.isTerminated()) masks.fill(0, slot * words, (slot + 1) * words);
  else if (m) masks.set(await m.getNextTokenBitmask(), slot * words);
  draftCounts[slot] = 0;
  publish(slot, epoch);
}

function publish(slot: number, epoch: number): void {
  Atomics.store(epochs, slot, epoch);
  Atomics.notify(epochs, slot);
}

/**
 * The mask after each draft the grammar accepts (stopping at the first it refuses, which verification
 * will reject anyway), then back to the state before them. A draft that ends the grammar gets an empty
 * mask after it: the sampler then leaves only EOS.
 */
async function writeDraftMasks(slot: number, tokens: readonly number[], epoch: number): Promise<void> {
  const m = matchers.get(slot);
  let n = 0;
  if (m) {
    for (const t of tokens) {
      if (m.isTerminated() || !m.acceptToken(t)) break;
      const at = (slot * data.draftPositions + n) * words;
      if (m.isTerminated()) draftMasks.fill(0, at, at + words);
      else draftMasks.set(await m.getNextTokenBitmask(), at);
      n++;
    }
    if (n > 0) m.rollBack(n);
  }
  draftCounts[slot] = n;
  publish(slot, epoch);
}

// Messages are handled one after another, so a matcher is never used before it is opened.
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: ToGrammar) => {
  queue = queue.then(() => handle(m)).catch((e: unknown) => {
    if (m.type === 'compile') post({ type: 'compile-failed', key: m.key, message: errorText(e) });
    else if (m.type === 'open' || m.type === 'accept') {
      // Unblock the engine with an all-zero mask, which ends the sequence: its matcher is unusable.
      masks.fill(0, m.slot * words, (m.slot + 1) * words);
      draftCounts[m.slot] = 0;
      publish(m.slot, m.epoch);
    } else if (m.type === 'drafts') {
      draftCounts[m.slot] = 0;
      publish(m.slot, m.epoch);
    }
  });
});

async function handle(m: ToGrammar): Promise<void> {
  switch (m.type) {
    case 'compile': {
      if (!compiled.has(m.key)) compiled.set(m.key, await compileGrammar(X, await compiler, m.spec));
      post({ type: 'compiled', key: m.key });
      return;
    }
    case 'open': {
      matchers.get(m.slot)?.dispose();
      matchers.set(m.slot, await X.GrammarMatcher.createGrammarMatcher(compiled.get(m.key)!));
      return writeMask(m.slot, m.epoch);
    }
    case 'accept': {
      const matcher = matchers.get(m.slot);
      for (const t of m.tokens) {
        // Only a bug lets a refused token through the mask; the sequence then ends (see above).
        if (matcher && !matcher.isTerminated() && !matcher.acceptToken(t)) throw new Error(`the grammar refused token ${t}`);
      }
      return writeMask(m.slot, m.epoch);
    }
    case 'drafts':
      return writeDraftMasks(m.slot, m.tokens, m.epoch);
    case 'close':
      matchers.get(m.slot)?.dispose();
      matchers.delete(m.slot);
  }
}
