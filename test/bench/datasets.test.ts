// The benchmark datasets: seeded, of the lengths asked for, and ShareGPT files filtered as vLLM does.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { prefixRepetitionDataset, quoteDataset, randomDataset, shareGptDataset } from '../../src/bench/datasets.js';
import { UsageError } from '../../src/util/errors.js';
import { loadStories } from '../helpers/models.js';

describe('benchmark datasets', () => {
  it('random: lengths within the range ratio, the same for the same seed', () => {
    const a = randomDataset({ numPrompts: 200, inputLen: 100, outputLen: 50, rangeRatio: 0.5, vocabSize: 512, seed: 1 });
    assert.deepEqual(a, randomDataset({ numPrompts: 200, inputLen: 100, outputLen: 50, rangeRatio: 0.5, vocabSize: 512, seed: 1 }));
    assert.ok(a.every((r) => r.promptIds.length >= 50 && r.promptIds.length <= 150 && r.outputLen >= 25 && r.outputLen <= 75));
    assert.ok(a.every((r) => r.promptIds.every((t) => t >= 3 && t < 512)));
    const fixed = randomDataset({ numPrompts: 5, inputLen: 10, outputLen: 4, rangeRatio: 0, vocabSize: 512, seed: 1 });
    assert.ok(fixed.every((r) => r.promptIds.length === 10 && r.outputLen === 4));
  });

  it('prefix-repetition: each prefix equally often, in a shuffled order, each prompt with its own suffix', () => {
    const d = prefixRepetitionDataset({ numPrompts: 40, prefixLen: 20, suffixLen: 5, numPrefixes: 4, outputLen: 3, vocabSize: 512, seed: 2 });
    const heads = d.map((r) => r.promptIds.slice(0, 20).join(','));
    const distinct = [...new Set(heads)];
    assert.equal(distinct.length, 4);
    assert.deepEqual(distinct.map((h) => heads.filter((x) => x === h).length), [10, 10, 10, 10]);
    assert.notDeepEqual(heads.map((h) => distinct.indexOf(h)), Array.from({ length: 40 }, (_, i) => i % 4), 'not a fixed cycle');
    assert.equal(new Set(d.map((r) => r.promptIds.slice(20).join(','))).size, 40);
    assert.ok(d.every((r) => r.promptIds.length === 25));
    assert.deepEqual(prefixRepetitionDataset({ numPrompts: 40, prefixLen: 20, suffixLen: 5, numPrefixes: 4, outputLen: 3, vocabSize: 512, seed: 2 }), d, 'seeded');
  });

  it('sharegpt: first turns with the replies\' token counts, too-short ones dropped', async () => {
    const { tokenizer } = await loadStories();
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsllm-sharegpt-')), 'conv.json');
    const conv = (q: string, a: string) => ({ conversations: [{ from: 'human', value: q }, { from: 'gpt', value: a }] });
    fs.writeFileSync(file, JSON.stringify([
      conv('Once upon a time there was a little girl', 'She liked to play in the park with her dog every day'),
      conv('Hi', 'Hello'),
      { conversations: [{ from: 'human', value: 'alone' }] },
      conv('The cat sat on the mat and looked at the bird', 'The bird flew away and the cat was sad all day long'),
    ]));
    const d = shareGptDataset(file, tokenizer!, 2, 0);
    assert.equal(d.length, 2);
    for (const r of d) {
      assert.equal(r.promptLen, tokenizer!.encode(r.prompt).length);
      assert.ok(r.outputLen >= 4);
    }
    assert.ok(!d.some((r) => r.prompt === 'Hi'));
    assert.equal(shareGptDataset(file, tokenizer!, 2, 0, 7)[0]!.outputLen, 7);
    assert.throws(() => shareGptDataset(file, tokenizer!, 3, 0), (e: Error) => e instanceof UsageError && /only 2 usable/.test(e.message));
  });

  it('quote: a passage of whole sentences, then its first half again, cut between words', async () => {
    const { tokenizer } = await loadStories();
    const content = 'Tim had a red ball. He threw it high. The dog ran after it. Mom laughed at them. They went home.';
    const d = quoteDataset({ numPrompts: 8, outputLen: 16, seed: 3, passageLen: 0, vocabSize: 512, text: { content, tokenizer: tokenizer!, sentences: 3 } });
    for (const r of d) {
      const [passage, repeat] = tokenizer!.decode(r.promptIds).replace(/^<s>/, '').split('\n\n') as [string, string];
      assert.match(passage.trim(), /^([A-Z][^.]*\.\s*){3}$/);
      assert.ok(passage.trim().startsWith(repeat.trim()), `${JSON.stringify(repeat)} starts the passage`);
      const next = passage.trim().slice(repeat.trim().length);
      assert.ok(next.startsWith(' '), `the repeat ends before a word: ${JSON.stringify(repeat)}`);
      assert.ok(Math.abs(repeat.trim().length - passage.trim().length / 2) < 12);
    }
    const random = quoteDataset({ numPrompts: 2, outputLen: 4, seed: 1, passageLen: 10, vocabSize: 512 });
    assert.deepEqual(random[0]!.promptIds.slice(10), random[0]!.promptIds.slice(0, 5));
  });
});
