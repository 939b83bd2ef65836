// tsllm bench grammar walks every benchmark schema's valid instance through the grammar's matcher (a
// refusal fails the run), with byte-level (Llama 3) and SentencePiece byte-fallback (tok512) vocabularies.

import assert from 'node:assert/strict';
import path from 'node:path';
import { it } from 'node:test';
import { FIXTURES } from '../helpers/fixtures.js';
import { tsllm } from '../helpers/cli.js';
import { BENCH_SCHEMAS } from '../../src/bench/grammar-schemas.js';

for (const tokenizer of ['llama3', 'tok512']) {
  it(`bench grammar --json with the ${tokenizer} tokenizer: every instance accepted, every figure measured`, () => {
    const r = tsllm(['bench', 'grammar', '--tokenizer', path.join(FIXTURES, 'tokenizers', tokenizer), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.rows.length, BENCH_SCHEMAS.length);
    for (const row of out.rows) {
      assert.ok(row.tokens > 5 && row.compileMs > 0 && row.maskMedianMs > 0 && row.maskP99Ms >= row.maskMedianMs, JSON.stringify(row));
    }
    assert.equal(out.vocabSize, tokenizer === 'llama3' ? 128256 : 512);
  });
}
