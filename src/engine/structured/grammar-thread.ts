// The grammar thread: xgrammar's compiler and one matcher per constrained sequence. Compiling a schema
// takes tens to hundreds of milliseconds, so it happens here, never on the engine's step loop; masks
// are computed here too, while the engine runs the next forward pass.

import { parentPort, workerData } from 'node:worker_threads';
import type { FromGrammar, GrammarThreadData, ToGrammar } from './grammar-protocol.js';
import { xgrammar } from './xgrammar-module.js';
import type { CompiledGrammar, GrammarCompiler, GrammarMatcher } from '@mlc-ai/web-xgrammar';
import { compileGrammar, errorText } from './grammar-compile.js';

const port = parentPort!;
const data = workerData as GrammarThreadData;
const X = xgrammar();
const words = Math.ceil(data.vocabSize / 32);
const masks = new Int32Array(data.masks);
const epochs = new Int32Array(data.epochs);
const compiled = new Map<string, CompiledGrammar>();
const matchers = new Map<number, GrammarMatcher>();
const post = (m: FromGrammar) => port.postMessage(m);

const compiler: Promise<GrammarCompiler> = X.TokenizerInfo
  .createTokenizerInfo(data.pieces, data.encoding, false, data.vocabSize, data.stopTokenIds)
  .then((info) => X.GrammarCompiler.createGrammarCompiler(info, true));

async function writeMask(slot: number, epoch: number): Promise<void> {
  const m = matchers.get(slot);
  if (m) masks.set(await m.getNextTokenBitmask(), slot * words);
  Atomics.store(epochs, slot, epoch);
  Atomics.notify(epochs, slot);
}

// Messages are handled one after another, so a matcher is never used before it is opened.
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: ToGrammar) => {
  queue = queue.then(() => handle(m)).catch((e: unknown) => {
    if (m.type === 'compile') post({ type: 'compile-failed', key: m.key, message: errorText(e) });
    else if (m.type === 'open' || m.type === 'accept') {
      // Unblock the engine with an all-zero mask, which ends the sequence: its matcher is unusable.
      masks.fill(0, m.slot * words, (m.slot + 1) * words);
      Atomics.store(epochs, m.slot, m.epoch);
      Atomics.notify(epochs, m.slot);
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
    case 'close':
      matchers.get(m.slot)?.dispose();
      matchers.delete(m.slot);
  }
}
