// A Hugging Face folder's tokenizer as GGUF tokenizer.ggml.* metadata, as llama.cpp's converter writes
// it: a SentencePiece tokenizer.model as the "llama" vocabulary (pieces, scores, token types), a
// byte-level BPE tokenizer.json as "gpt2" (tokens, merges, the pre-tokenizer's name); then the special
// ids and the chat template.

import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { readJsonFile } from '../loaders/hf-folder.js';
import { GGUF_TYPE, type GgufEntry } from '../loaders/gguf-writer.js';
import { PRE_TOKENIZER_REGEX } from '../tokenizer/tokenizer-json.js';

const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 };

interface Piece {
  piece: string;
  score: number;
  type: number;
}

// ---- SentencePiece's ModelProto: field 1 repeats SentencePiece { 1: piece, 2: score, 3: type } ----------
function readVarint(b: Uint8Array, pos: { p: number }): number {
  let v = 0, shift = 0;
  for (;;) {
    const byte = b[pos.p++]!;
    v += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return v;
    shift += 7;
  }
}

function skipField(b: Uint8Array, wire: number, pos: { p: number }): void {
  if (wire === 0) readVarint(b, pos);
  else if (wire === 1) pos.p += 8;
  else if (wire === 2) {
    const length = readVarint(b, pos);
    pos.p += length;
  }
  else if (wire === 5) pos.p += 4;
  else throw new Error(`unsupported protobuf wire type ${wire}`);
}

export function readSentencePieceModel(file: string): Piece[] {
  const b = new Uint8Array(fs.readFileSync(file));
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const pieces: Piece[] = [];
  const pos = { p: 0 };
  while (pos.p < b.length) {
    const tag = readVarint(b, pos);
    if (tag >> 3 !== 1 || (tag & 7) !== 2) {
      skipField(b, tag & 7, pos);
      continue;
    }
    const length = readVarint(b, pos);
    const end = pos.p + length;
    const piece: Piece = { piece: '', score: 0, type: TOKEN_TYPE.normal };
    while (pos.p < end) {
      const t = readVarint(b, pos);
      if (t === (1 << 3) + 2) {
        const n = readVarint(b, pos);
        piece.piece = Buffer.from(b.subarray(pos.p, pos.p + n)).toString('utf8');
        pos.p += n;
      } else if (t === (2 << 3) + 5) {
        piece.score = view.getFloat32(pos.p, true);
        pos.p += 4;
      } else if (t === (3 << 3) + 0) {
        piece.type = readVarint(b, pos);
      } else {
        skipField(b, t & 7, pos);
      }
    }
    if (pos.p !== end) throw new Error(`${file}: malformed SentencePiece model`);
    pieces.push(piece);
  }
  return pieces;
}

function strings(key: string, values: string[]): GgufEntry {
  return { key, type: GGUF_TYPE.array, itemType: GGUF_TYPE.string, value: values };
}

/** tokenizer.ggml.* and tokenizer.chat_template for the folder, with the vocabulary padded to `vocabSize`. */
export function hfVocabMetadata(dir: string, vocabSize: number, bosId: number | null, eosIds: number[]): GgufEntry[] {
  const out: GgufEntry[] = [];
  const spFile = path.join(dir, 'tokenizer.model');
  const jsonFile = path.join(dir, 'tokenizer.json');
  const configFile = path.join(dir, 'tokenizer_config.json');
  const tokConfig = fs.existsSync(configFile) ? readJsonFile(configFile) : {};
  if (fs.existsSync(spFile)) {
    const pieces = readSentencePieceModel(spFile);
    for (let i = pieces.length; i < vocabSize; i++) pieces.push({ piece: `[PAD${i}]`, score: -1000, type: TOKEN_TYPE.unused });
    out.push({ key: 'tokenizer.ggml.model', type: GGUF_TYPE.string, value: 'llama' });
    out.push({ key: 'tokenizer.ggml.pre', type: GGUF_TYPE.string, value: 'default' });
    out.push(strings('tokenizer.ggml.tokens', pieces.map((p) => p.piece)));
    out.push({ key: 'tokenizer.ggml.scores', type: GGUF_TYPE.array, itemType: GGUF_TYPE.f32, value: pieces.map((p) => p.score) });
    out.push({ key: 'tokenizer.ggml.token_type', type: GGUF_TYPE.array, itemType: GGUF_TYPE.i32, value: pieces.map((p) => p.type) });
  } else if (fs.existsSync(jsonFile)) {
    out.push(...byteLevelVocab(readJsonFile(jsonFile), jsonFile, vocabSize));
  } else {
    throw new UsageError(`${dir}: no tokenizer.model or tokenizer.json to carry into the GGUF`);
  }
  if (bosId !== null) out.push({ key: 'tokenizer.ggml.bos_token_id', type: GGUF_TYPE.u32, value: bosId });
  if (eosIds.length > 0) out.push({ key: 'tokenizer.ggml.eos_token_id', type: GGUF_TYPE.u32, value: eosIds[0]! });
  for (const [flag, key] of [['add_bos_token', 'tokenizer.ggml.add_bos_token'], ['add_eos_token', 'tokenizer.ggml.add_eos_token']] as const) {
    if (typeof tokConfig[flag] === 'boolean') out.push({ key, type: GGUF_TYPE.bool, value: tokConfig[flag] as boolean });
  }
  const templateFile = path.join(dir, 'chat_template.jinja');
  const template = typeof tokConfig['chat_template'] === 'string' ? tokConfig['chat_template'] : fs.existsSync(templateFile) ? fs.readFileSync(templateFile, 'utf8') : null;
  if (template) out.push({ key: 'tokenizer.chat_template', type: GGUF_TYPE.string, value: template });
  return out;
}

function byteLevelVocab(json: Record<string, unknown>, file: string, vocabSize: number): GgufEntry[] {
  const model = json['model'] as { type?: string; vocab?: Record<string, number>; merges?: (string | string[])[] } | undefined;
  if (model?.type !== 'BPE' || !model.vocab || !model.merges) throw new UsageError(`${file}: only BPE tokenizers convert to GGUF here`);
  const pre = JSON.stringify(json['pre_tokenizer'] ?? null);
  if (!pre.includes('ByteLevel')) {
    throw new UsageError(`${file}: a BPE tokenizer without a byte-level pre-tokenizer needs its tokenizer.model (SentencePiece) to convert`);
  }
  const regexes = [...pre.matchAll(/"Regex":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
  const preName = regexes.length === 0
    ? 'gpt2'
    : Object.entries(PRE_TOKENIZER_REGEX).find(([, r]) => r.length === regexes.length && r.every((x, i) => x === regexes[i]))?.[0];
  if (!preName) throw new UsageError(`${file}: its pre-tokenizer split is not one this engine names in GGUF (known: gpt2, ${Object.keys(PRE_TOKENIZER_REGEX).join(', ')})`);
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [piece, id] of Object.entries(model.vocab)) {
    tokens[id] = piece;
    types[id] = TOKEN_TYPE.normal;
  }
  for (const t of (json['added_tokens'] as { id: number; content: string; special: boolean }[] | undefined) ?? []) {
    tokens[t.id] = t.content;
    types[t.id] = t.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
  }
  for (let i = 0; i < Math.max(vocabSize, tokens.length); i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
    }
  }
  return [
    { key: 'tokenizer.ggml.model', type: GGUF_TYPE.string, value: 'gpt2' },
    { key: 'tokenizer.ggml.pre', type: GGUF_TYPE.string, value: preName },
    strings('tokenizer.ggml.tokens', tokens),
    { key: 'tokenizer.ggml.token_type', type: GGUF_TYPE.array, itemType: GGUF_TYPE.i32, value: types },
    strings('tokenizer.ggml.merges', model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m))),
  ];
}
