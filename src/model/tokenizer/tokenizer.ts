// The model's tokenizer. Encoding is done by @huggingface/tokenizers from a tokenizer.json object
// (shipped with HF models, or built from GGUF / llama2.c vocabularies). Decoding works on each
// token's bytes, which is what streaming needs: text can only be emitted once its UTF-8 is whole,
// and pieces of a character may sit in different tokens. (The library's own decode is string-based
// and drops a leading BOM, so it serves neither.)

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { BYTE_LEVEL_CHARS, BYTE_OF_CHAR } from './byte-level.js';
import { pickChatTemplate } from './chat-template.js';

type Json = Record<string, any>;

export interface TokenizerOptions {
  /** tokenizer_config.json's content, if any. */
  config?: Json | null;
  /** GGUF and llama2.c carry BOS as an id. */
  bosTokenId?: number | null;
  /** End-of-sequence ids beyond the config's eos_token (generation_config, model config). */
  eosTokenIds?: number[];
  addBosToken?: boolean;
  chatTemplate?: string | null;
}

function tokenContent(t: unknown): string | null {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as Json)['content'] === 'string') return (t as Json)['content'] as string;
  return null;
}

function containsDecoder(d: Json | null | undefined, type: string): Json | null {
  if (!d) return null;
  if (d['type'] === type) return d;
  if (d['type'] === 'Sequence') {
    for (const x of d['decoders'] as Json[]) {
      const found = containsDecoder(x, type);
      if (found) return found;
    }
  }
  return null;
}

export interface SerializedTokenizer {
  json: Json;
  options: TokenizerOptions;
}

export class Tokenizer {
  private readonly hf: HfTokenizer;
  private readonly pieces: string[] = [];
  private readonly special = new Set<number>();
  /** Added tokens: their content is plain text, not in the model's byte-level alphabet. */
  private readonly added = new Set<number>();
  private readonly bytesCache = new Map<number, Uint8Array>();
  private readonly byteLevel: boolean;
  /** SentencePiece decoders drop the space the normalizer put before the first word. */
  private readonly stripsLeadingSpace: boolean;
  private readonly addsBos: boolean;
  private readonly addsEos: boolean;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  readonly chatTemplate: string | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;

  constructor(readonly json: Json, readonly options: TokenizerOptions = {}) {
    const opts = options;
    const config = opts.config ?? {};
    this.hf = new HfTokenizer(json, config);
    const vocab = json['model']?.['vocab'];
    if (Array.isArray(vocab)) vocab.forEach((v: [string, number], i: number) => (this.pieces[i] = v[0]));
    else for (const [piece, id] of Object.entries(vocab as Record<string, number>)) this.pieces[id] = piece;
    for (const t of (json['added_tokens'] ?? []) as Json[]) {
      this.pieces[t['id'] as number] = t['content'] as string;
      if (t['special']) this.special.add(t['id'] as number);
      this.added.add(t['id'] as number);
    }
    const decoder = json['decoder'] as Json | null;
    this.byteLevel = containsDecoder(decoder, 'ByteLevel') !== null;
    const strip = containsDecoder(decoder, 'Strip');
    const metaspace = containsDecoder(decoder, 'Metaspace');
    this.stripsLeadingSpace =
      (strip !== null && (strip['start'] as number) > 0) ||
      (metaspace !== null && metaspace['prepend_scheme'] !== 'never' && metaspace['add_prefix_space'] !== false);

    this.bosToken = tokenContent(config['bos_token']);
    this.eosToken = tokenContent(config['eos_token']);
    this.bosTokenId = opts.bosTokenId !== undefined ? opts.bosTokenId : this.bosToken !== null ? this.idOf(this.bosToken) : null;
    const configEos = this.eosToken !== null ? this.idOf(this.eosToken) : null;
    this.eosTokenIds = [...new Set([...(configEos !== null ? [configEos] : []), ...(opts.eosTokenIds ?? [])])];
    this.chatTemplate = opts.chatTemplate !== undefined ? opts.chatTemplate : pickChatTemplate(config['chat_template']);

    // What the post-processor adds around a text, unless the config says otherwise.
    const probe = this.hf.encode('a', { add_special_tokens: true }).ids;
    const bare = this.hf.encode('a', { add_special_tokens: false }).ids;
    const postBos = probe.length > bare.length && probe[0] !== bare[0];
    const postEos = probe.length > bare.length && probe[probe.length - 1] !== bare[bare.length - 1];
    this.addsBos = opts.addBosToken ?? (typeof config['add_bos_token'] === 'boolean' ? config['add_bos_token'] : postBos);
    this.addsEos = typeof config['add_eos_token'] === 'boolean' ? config['add_eos_token'] : postEos;
  }

  /** Plain data to build the same tokenizer in another thread: `new Tokenizer(s.json, s.options)`. */
  serialize(): SerializedTokenizer {
    return { json: this.json, options: this.options };
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /**
   * The vocabulary as a grammar engine reads it: each token's piece, and how pieces spell bytes. Special
   * tokens read as '' so that no grammar ever matches them as text; other added tokens (<tool_call>,
   * <think>) spell their text, in the byte-level alphabet where the vocabulary uses one.
   */
  grammarVocabulary(): { pieces: string[]; encoding: 'byte_level' | 'byte_fallback' } {
    const spell = (p: string, id: number) => (this.byteLevel && this.added.has(id) ? [...Buffer.from(p, 'utf8')].map((b) => BYTE_LEVEL_CHARS[b]).join('') : p);
    const pieces = Array.from(this.pieces, (p, id) => (p === undefined || this.special.has(id) ? '' : spell(p, id)));
    return { pieces, encoding: this.byteLevel ? 'byte_level' : 'byte_fallback' };
  }

  idOf(piece: string): number | null {
    const i = this.pieces.indexOf(piece);
    return i >= 0 ? i : null;
  }

  isSpecial(id: number): boolean {
    return this.special.has(id);
  }

  /** Token ids of `text`; with special tokens, BOS/EOS as the tokenizer config asks. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    if (text.length === 0) return opts.addSpecialTokens !== false && this.addsBos && this.bosTokenId !== null ? [this.bosTokenId] : [];
    const ids = this.hf.encode(text, { add_special_tokens: false }).ids;
    if (opts.addSpecialTokens === false) return ids;
    if (this.addsBos && this.bosTokenId !== null) ids.unshift(this.bosTokenId);
    if (this.addsEos && this.eosTokenIds.length > 0) ids.push(this.eosTokenIds[0]!);
    return ids;
  }

  /** The bytes a token stands for in decoded text. */
  tokenBytes(id: number): Uint8Array {
    let b = this.bytesCache.get(id);
    if (b) return b;
    const piece = this.pieces[id];
    if (piece === undefined) b = new Uint8Array(0);
    else if (this.special.has(id)) b = Buffer.from(piece, 'utf8');
    else if (this.byteLevel) b = byteLevelBytes(piece);
    else if (/^<0x[0-9A-Fa-f]{2}>$/.test(piece)) b = Uint8Array.of(parseInt(piece.slice(3, 5), 16));
    else b = Buffer.from(piece.replaceAll('\u2581', ' '), 'utf8');
    this.bytesCache.set(id, b);
    return b;
  }

  /** Full decode, as the tokenizer's own decoder gives it. */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    const d = new IncrementalDetokenizer(this, { skipSpecialTokens: opts.skipSpecialTokens ?? false, startOfText: true });
    let text = '';
    for (const id of ids) text += d.push(id);
    return text + d.flush();
  }

  /** Whether decoding the start of a text drops one leading space. */
  get dropsLeadingSpace(): boolean {
    return this.stripsLeadingSpace;
  }
}

// A byte-level token's bytes, one per character of the alphabet. A token with any other character
// (DeepSeek's added tokens such as <｜User｜>) stands for its own UTF-8, as the tokenizers library's
// ByteLevel decoder has it.
function byteLevelBytes(piece: string): Uint8Array {
  const chars = Array.from(piece);
  if (!chars.every((ch) => BYTE_OF_CHAR.has(ch))) return Buffer.from(piece, 'utf8');
  return Uint8Array.from(chars, (ch) => BYTE_OF_CHAR.get(ch)!);
}

/**
 * Token-by-token text that never splits a UTF-8 character and always adds up to the full decode.
 * Bytes of an unfinished character wait in the stream decoder until the token completing it arrives.
 */
export class IncrementalDetokenizer {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private pendingStrip: boolean;
  private readonly skipSpecial: boolean;

  constructor(
    private readonly tokenizer: Tokenizer,
    opts: { skipSpecialTokens?: boolean; startOfText?: boolean } = {},
  ) {
    this.skipSpecial = opts.skipSpecialTokens ?? true;
    this.pendingStrip = (opts.startOfText ?? false) && tokenizer.dropsLeadingSpace;
  }

  push(id: number): string {
    if (this.skipSpecial && this.tokenizer.isSpecial(id)) return '';
    let text = this.decoder.decode(this.tokenizer.tokenBytes(id), { stream: true });
    if (this.pendingStrip && text.length > 0) {
      if (text.startsWith(' ')) text = text.slice(1);
      this.pendingStrip = false;
    }
    return text;
  }

  /** Whatever is left: an unfinished character becomes U+FFFD. */
  flush(): string {
    return this.decoder.decode();
  }
}
