// The tree's shape, checked: imports point one way (cli -> server/router -> bench -> metrics/calc -> engine
// -> model -> kernels -> util), and files stay small enough to read (the engine core under 150 lines,
// every TypeScript source under 300, every C++ source under 600).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = path.join(ROOT, 'src');

/** Each top-level folder of src/ and the rank of its layer: a file may import only from ranks at or below its own. */
const RANK: Record<string, number> = { util: 0, kernels: 1, model: 2, distributed: 2, engine: 3, calc: 4, metrics: 4, bench: 5, server: 6, router: 6, cli: 7, 'index.ts': 8 };

function files(dir: string, ext: RegExp): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p, ext) : ext.test(e.name) ? [p] : [];
  });
}

const layerOf = (file: string) => path.relative(SRC, file).split(path.sep)[0]!;

describe('the source tree', () => {
  it('every src/ folder has a layer', () => {
    for (const f of files(SRC, /\.ts$/)) assert.ok(layerOf(f) in RANK, `${path.relative(ROOT, f)} is in no known layer`);
  });

  it('imports point down the layers only', () => {
    const wrong: string[] = [];
    for (const f of files(SRC, /\.ts$/)) {
      const from = layerOf(f);
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const to = layerOf(path.resolve(path.dirname(f), m[1]!));
        if (RANK[to]! > RANK[from]!) wrong.push(`${path.relative(ROOT, f)} imports ${m[1]} (${from} -> ${to})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('files stay small: engine core < 150 lines, TypeScript < 300, C++ < 600', () => {
    const lines = (f: string) => fs.readFileSync(f, 'utf8').split('\n').length - 1;
    assert.ok(lines(path.join(SRC, 'engine', 'engine-core.ts')) < 150);
    const big = [
      ...files(SRC, /\.ts$/).filter((f) => lines(f) > 300),
      ...files(path.join(ROOT, 'native', 'src'), /\.(cc|h|inc)$/).filter((f) => lines(f) > 600),
    ].map((f) => `${path.relative(ROOT, f)}: ${lines(f)} lines`);
    assert.deepEqual(big, []);
  });
});
