// A progress bar on stderr for the slow part of loading a model: quantizing and packing its layers
// (a multi-GB model takes tens of seconds; stories260K never shows one long enough to see).

import { SingleBar } from 'cli-progress';
import type { LoadProgress } from './engine-protocol.js';

export interface LoadProgressBar {
  update(p: LoadProgress): void;
  stop(): void;
}

export function loadProgressBar(stream: NodeJS.WriteStream = process.stderr): LoadProgressBar {
  let bar: SingleBar | null = null;
  let current = '';
  return {
    update(p) {
      const label = `${p.model === 'draft' ? 'draft: ' : ''}${p.stage}`;
      if (label !== current) {
        bar?.stop();
        current = label;
        bar = new SingleBar({ format: 'loading [{bar}] {stage} {value}/{total} layers', stream, hideCursor: true, clearOnComplete: true });
        bar.start(p.total, 0, { stage: label });
      }
      bar!.update(p.done);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
