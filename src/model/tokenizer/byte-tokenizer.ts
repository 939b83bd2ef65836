// The demo model's tokenizer: one token per byte (GPT-2's byte-level alphabet, no merges), then BOS
// and EOS, then unused specials up to the model's vocabulary. Real text in, real text out, with no
// files to ship.

import { BYTE_LEVEL_CHARS } from './byte-level.js';
import { Tokenizer } from './tokenizer.js';

export function byteTokenizer(vocabSize = 258): Tokenizer {
  const vocab: Record<string, number> = Object.fromEntries(BYTE_LEVEL_CHARS.map((ch, b) => [ch, b]));
  const added = [
    { id: 256, content: '<s>' },
    { id: 257, content: '</s>' },
    ...Array.from({ length: Math.max(0, vocabSize - 258) }, (_, i) => ({ id: 258 + i, content: `<|unused_${i}|>` })),
  ].map((t) => ({ ...t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const json = {
    version: '1.0', added_tokens: added, normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    post_processor: null, decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
  return new Tokenizer(json, {
    bosTokenId: 256, eosTokenIds: [257], addBosToken: true,
    chatTemplate: "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}",
  });
}
