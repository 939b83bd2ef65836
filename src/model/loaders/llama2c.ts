// Karpathy's llama2.c checkpoints (the legacy .bin of run.c: a 7 x int32 header, then float32
// weights) and its tokenizer.bin. Q/K rows are in llama2.c's interleaved RoPE order, so the model
// runs interleaved RoPE on them as they are.

import fs from 'node:fs';
import type { ModelConfig } from '../config.js';
import { validateConfig } from '../config.js';
import { ModelLoadError } from '../../util/errors.js';
import { openForRead, readExact } from './file-io.js';
import type { LayerWeights, ModelWeights } from '../weights.js';
import { toFloat32, type WeightTensor } from '../../kernels/tensor.js';
import { sentencePieceTokenizerJson, type VocabPiece } from '../tokenizer/tokenizer-json.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';

const HEADER_BYTES = 7 * 4;

export interface Llama2cModel {
  config: ModelConfig;
  weights: ModelWeights;
}

export function loadLlama2c(file: string): Llama2cModel {
  const fd = openForRead(file);
  try {
    const size = fs.fstatSync(fd).size;
    if (size < HEADER_BYTES) throw new ModelLoadError(file, `not a llama2.c checkpoint (only ${size} bytes)`);
    const h = Buffer.alloc(HEADER_BYTES);
    fs.readSync(fd, h, 0, HEADER_BYTES, 0);
    if (h.readUInt32LE(0) === 0x616b3432) {
      throw new ModelLoadError(file, 'llama2.c export format version 1/2 ("ak42") is not supported; use the legacy format (export.py --version 0) or GGUF');
    }
    const [dim, hidden, layers, heads, kvHeads, vocabSigned, seqLen] = Array.from({ length: 7 }, (_, i) => h.readInt32LE(i * 4)) as number[];
    const vocab = Math.abs(vocabSigned!);
    const config: ModelConfig = {
      architecture: 'llama', vocabSize: vocab, hiddenSize: dim!, intermediateSize: hidden!, numLayers: layers!,
      numHeads: heads!, numKvHeads: kvHeads!, headDim: dim! / heads!, maxPositions: seqLen!, norm: 'rms', normEps: 1e-5,
      rope: { theta: 10000, style: 'interleaved', rotaryDim: dim! / heads!, scaling: null }, slidingWindow: 0,
      qkvBias: false, outputBias: false, qkNorm: false, mlp: 'gated-silu', moe: null, tieEmbeddings: vocabSigned! > 0,
      // run.c ends a story when the model emits BOS again; EOS (2) counts too.
      bosTokenId: 1, eosTokenIds: [1, 2],
    };
    if ([dim, hidden, layers, heads, kvHeads, seqLen].some((v) => !Number.isInteger(v) || v! <= 0 || v! > 1 << 20) || vocab === 0) {
      throw new ModelLoadError(file, `not a llama2.c checkpoint (implausible header ${[dim, hidden, layers, heads, kvHeads, vocabSigned, seqLen].join(', ')})`);
    }
    validateConfig(config, file);
    const headDim = config.headDim;
    const kvDim = kvHeads! * headDim;
    const L = layers!;
    const D = dim!;
    const F = hidden!;
    const expected = 4 * (vocab * D + L * (2 * D + D * D * 2 + 2 * kvDim * D + 3 * F * D) + D + seqLen! * headDim + (vocabSigned! < 0 ? vocab * D : 0));
    if (size !== HEADER_BYTES + expected) {
      throw new ModelLoadError(file, `${size < HEADER_BYTES + expected ? 'truncated' : 'unexpected size'}: the header needs ${HEADER_BYTES + expected} bytes, the file has ${size}`);
    }

    let offset = HEADER_BYTES;
    const take = (shape: number[]): WeightTensor => {
      const bytes = shape.reduce((a, b) => a * b, 1) * 4;
      const data = new Uint8Array(new ArrayBuffer(bytes));
      readExact(fd, data, offset, file, 'weights');
      offset += bytes;
      return { dtype: 'f32', shape, data };
    };
    const perLayer = (shape: number[]) => Array.from({ length: L }, () => take(shape));
    const embed = take([vocab, D]);
    const rmsAtt = perLayer([D]);
    const wq = perLayer([D, D]);
    const wk = perLayer([kvDim, D]);
    const wv = perLayer([kvDim, D]);
    const wo = perLayer([D, D]);
    const rmsFfn = perLayer([D]);
    const w1 = perLayer([F, D]);
    const w2 = perLayer([D, F]);
    const w3 = perLayer([F, D]);
    const finalNorm = toFloat32(take([D]));
    offset += seqLen! * headDim * 4; // freq_cis_real and _imag: RoPE is recomputed
    const lmHead = vocabSigned! > 0 ? embed : take([vocab, D]);
    const layerWeights: LayerWeights[] = Array.from({ length: L }, (_, l) => ({
      attnNorm: toFloat32(rmsAtt[l]!), q: wq[l]!, k: wk[l]!, v: wv[l]!, o: wo[l]!, mlpNorm: toFloat32(rmsFfn[l]!),
      mlp: { gate: w1[l]!, up: w3[l]!, down: w2[l]! },
    }));
    return { config, weights: { embed, layers: layerWeights, finalNorm, lmHead } };
  } finally {
    fs.closeSync(fd);
  }
}

/** run.c's tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length, bytes. */
export function loadLlama2cTokenizer(file: string, vocabSize: number): Tokenizer {
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch (e) {
    throw new ModelLoadError(file, `cannot read: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found (pass --tokenizer)' : (e as Error).message}`);
  }
  const pieces: VocabPiece[] = [];
  let p = 4;
  for (let i = 0; i < vocabSize; i++) {
    if (p + 8 > b.length) throw new ModelLoadError(file, `truncated: ${i} of ${vocabSize} tokens`);
    const score = b.readFloatLE(p);
    const len = b.readInt32LE(p + 4);
    if (len < 0 || p + 8 + len > b.length) throw new ModelLoadError(file, `corrupted: token ${i} has length ${len}`);
    const raw = b.toString('utf8', p + 8, p + 8 + len);
    p += 8 + len;
    // llama2.c stores the specials as "\n<s>\n" and the SentencePiece space as ' '.
    if (i < 3) pieces.push({ piece: ['<unk>', '<s>', '</s>'][i]!, score, type: i === 0 ? 2 : 3 });
    else if (/^<0x[0-9A-F]{2}>$/.test(raw)) pieces.push({ piece: raw, score, type: 6 });
    else pieces.push({ piece: raw.replaceAll(' ', '\u2581'), score, type: 1 });
  }
  return new Tokenizer(sentencePieceTokenizerJson(pieces, { unkId: 0 }), {
    config: { bos_token: '<s>', eos_token: '</s>' }, bosTokenId: 1, eosTokenIds: [2], addBosToken: true, chatTemplate: null,
  });
}
