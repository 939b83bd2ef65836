// The tokenizer a GGUF file carries in tokenizer.ggml.*: SentencePiece-style ("llama") or byte-level
// BPE ("gpt2"), with its special ids and chat template.

import { ModelLoadError } from '../../util/errors.js';
import type { GgufFile } from '../loaders/gguf.js';
import { byteLevelTokenizerJson, GPT2_PRE_NAMES, PRE_TOKENIZER_REGEX, sentencePieceTokenizerJson, type VocabPiece } from './tokenizer-json.js';
import { Tokenizer } from './tokenizer.js';

export function ggufTokenizer(g: GgufFile): Tokenizer | null {
  const kind = g.meta('tokenizer.ggml.model');
  if (kind === undefined) return null;
  const tokens = g.meta('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens)) throw new ModelLoadError(g.path, 'missing tokenizer.ggml.tokens');
  const scores = g.meta('tokenizer.ggml.scores') as number[] | undefined;
  const types = g.meta('tokenizer.ggml.token_type') as number[] | undefined;
  const pieces: VocabPiece[] = tokens.map((t, i) => ({ piece: String(t), score: scores?.[i] ?? 0, type: types?.[i] ?? 1 }));
  const id = (key: string): number | null => {
    const v = g.meta(key);
    return typeof v === 'number' ? v : null;
  };
  const flag = (key: string): boolean | undefined => {
    const v = g.meta(key);
    return typeof v === 'boolean' ? v : undefined;
  };
  let json;
  if (kind === 'llama') {
    json = sentencePieceTokenizerJson(pieces, { unkId: id('tokenizer.ggml.unknown_token_id') ?? 0, addSpacePrefix: flag('tokenizer.ggml.add_space_prefix') });
  } else if (kind === 'gpt2') {
    const merges = g.meta('tokenizer.ggml.merges');
    if (!Array.isArray(merges)) throw new ModelLoadError(g.path, 'missing tokenizer.ggml.merges for a gpt2 tokenizer');
    const pre = g.meta('tokenizer.ggml.pre');
    const name = typeof pre === 'string' && !GPT2_PRE_NAMES.includes(pre) ? pre : null;
    if (name !== null && !(name in PRE_TOKENIZER_REGEX)) {
      throw new ModelLoadError(g.path, `unsupported tokenizer.ggml.pre "${name}" (supported: ${[...GPT2_PRE_NAMES, ...Object.keys(PRE_TOKENIZER_REGEX)].join(', ')})`);
    }
    json = byteLevelTokenizerJson(pieces, merges.map(String), name);
  } else {
    throw new ModelLoadError(g.path, `unsupported tokenizer.ggml.model "${String(kind)}" (supported: llama, gpt2)`);
  }
  const eos = id('tokenizer.ggml.eos_token_id');
  const eot = id('tokenizer.ggml.eot_token_id');
  const template = g.meta('tokenizer.chat_template');
  const bos = id('tokenizer.ggml.bos_token_id');
  return new Tokenizer(json, {
    config: { bos_token: bos !== null ? pieces[bos]?.piece : null, eos_token: eos !== null ? pieces[eos]?.piece : null },
    bosTokenId: bos,
    eosTokenIds: [eos, eot].filter((x): x is number => x !== null),
    addBosToken: flag('tokenizer.ggml.add_bos_token') ?? kind === 'llama',
    chatTemplate: typeof template === 'string' ? template : null,
  });
}
