// Builds tokenizer.json objects from the vocabularies GGUF and llama2.c files carry, so that one
// library encodes every format.

export interface VocabPiece {
  piece: string;
  score: number;
  /** SentencePiece/GGUF token type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  type: number;
}

/**
 * SentencePiece BPE merges in rank order, derived from piece scores the way transformers'
 * SentencePieceExtractor does: every split of a piece into two pieces of the vocabulary, ranked by
 * the merged piece's score (best first; within one piece, by the ids of its halves).
 */
export function mergesFromScores(pieces: readonly VocabPiece[]): [string, string][] {
  const ids = new Map<string, number>();
  pieces.forEach((p, i) => {
    if (!ids.has(p.piece)) ids.set(p.piece, i);
  });
  const merges: { l: string; r: string; score: number; order: number }[] = [];
  const order = pieces.map((_, i) => i).sort((a, b) => pieces[b]!.score - pieces[a]!.score || a - b);
  for (const i of order) {
    const { piece, score, type } = pieces[i]!;
    if (type !== 1 && type !== 4) continue;
    const chars = Array.from(piece);
    const local: { l: string; r: string }[] = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      if (ids.has(l) && ids.has(r)) local.push({ l, r });
    }
    local.sort((a, b) => ids.get(a.l)! - ids.get(b.l)! || ids.get(a.r)! - ids.get(b.r)!);
    for (const m of local) merges.push({ ...m, score, order: merges.length });
  }
  merges.sort((a, b) => b.score - a.score || a.order - b.order);
  return merges.map((m) => [m.l, m.r]);
}

function addedTokens(pieces: readonly VocabPiece[]) {
  return pieces.flatMap((p, id) =>
    p.type === 2 || p.type === 3 || p.type === 4
      ? [{ id, content: p.piece, single_word: false, lstrip: false, rstrip: false, normalized: false, special: p.type !== 4 }]
      : []);
}

function vocabObject(pieces: readonly VocabPiece[]): Record<string, number> {
  const vocab: Record<string, number> = {};
  pieces.forEach((p, i) => {
    if (!(p.piece in vocab)) vocab[p.piece] = i;
  });
  return vocab;
}

/** SentencePiece-style BPE with byte fallback (Llama 1/2, Mistral v1, TinyStories). */
export function sentencePieceTokenizerJson(pieces: readonly VocabPiece[], opts: { unkId: number; addSpacePrefix?: boolean }) {
  const normalizers = [{ type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }];
  if (opts.addSpacePrefix !== false) normalizers.unshift({ type: 'Prepend', prepend: '\u2581' } as never);
  return {
    version: '1.0',
    added_tokens: addedTokens(pieces),
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(opts.addSpacePrefix !== false ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: pieces[opts.unkId]?.piece ?? '<unk>', continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab: vocabObject(pieces), merges: mergesFromScores(pieces),
    },
  };
}

// Pre-tokenizer splits of byte-level BPE vocabularies, by GGUF's tokenizer.ggml.pre: the regexes of
// each model's tokenizer.json, applied in order (llama.cpp's regex_exprs for the same names).
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT2_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
export const PRE_TOKENIZER_REGEX: Record<string, readonly string[]> = {
  'llama-bpe': [LLAMA3_SPLIT],
  llama3: [LLAMA3_SPLIT],
  'llama-v3': [LLAMA3_SPLIT],
  dbrx: [LLAMA3_SPLIT],
  'smaug-bpe': [LLAMA3_SPLIT],
  qwen2: [QWEN2_SPLIT],
  'deepseek-r1-qwen': [QWEN2_SPLIT],
  'deepseek-v3': [
    '\\p{N}{1,3}',
    '[一-龥぀-ゟ゠-ヿ]+',
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
  ],
  smollm: ['\\p{N}', GPT2_SPLIT],
  starcoder: ['\\p{N}', GPT2_SPLIT],
};

/** GGUF pre-tokenizer names that mean GPT-2's own split (ByteLevel's built-in regex). */
export const GPT2_PRE_NAMES: readonly string[] = ['gpt-2', 'gpt2', 'default'];

/** Byte-level BPE (GPT-2, Llama 3, Qwen). */
export function byteLevelTokenizerJson(pieces: readonly VocabPiece[], merges: string[], pre: string | null) {
  const regexes = pre ? PRE_TOKENIZER_REGEX[pre] : undefined;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: regexes === undefined };
  return {
    version: '1.0',
    added_tokens: addedTokens(pieces),
    normalizer: null,
    pre_tokenizer: regexes
      ? { type: 'Sequence', pretokenizers: [...regexes.map((r) => ({ type: 'Split', pattern: { Regex: r }, behavior: 'Isolated', invert: false })), byteLevel] }
      : byteLevel,
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false,
      byte_fallback: false, ignore_merges: false, vocab: vocabObject(pieces), merges,
    },
  };
}
