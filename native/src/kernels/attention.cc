// Paged attention over the KV cache: every query of a flat batch against its own sequence's cached
// keys and values (causal, sliding window, GQA), one query tile x KV head per task, keys and values
// read back a tile at a time.

#include <type_traits>

#include "kernel-decls.h"
#include "kv-formats.h"

namespace tsllm {
namespace TSLLM_ISA {

// Keys and values are float, Half or BHalf (kv-formats.h): T below.
template <class T>
inline float dot(const float* a, const T* b, int n) {
  int i = 0;
  float s = 0;
#if defined(__AVX2__)
  __m256 acc = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b + i), acc);
  s = hsum(acc);
#endif
  for (; i < n; i++) s += a[i] * toFloat(b[i]);
  return s;
}

#if defined(__AVX2__)
// The eight horizontal sums of a[0..7], as one vector.
inline __m256 hsum8(const __m256* a) {
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

#endif

// sc[j] = q . key_j * scale for j in [ja, jb); key j at keys + j * stride. Eight keys at a time share
// the loads of q and one transposing reduction.
template <class T>
inline void scoreKeys(float* sc, const float* q, const T* keys, size_t stride, int ja, int jb, int hd, float scale) {
  int j = ja;
#if defined(__AVX2__)
  if (hd % 8 == 0) {
    for (; j + 8 <= jb; j += 8) {
      __m256 acc[8];
      for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
      for (int d = 0; d < hd; d += 8) {
        const __m256 qv = _mm256_loadu_ps(q + d);
        for (int i = 0; i < 8; i++) acc[i] = _mm256_fmadd_ps(qv, load8(keys + (j + i) * stride + d), acc[i]);
      }
      _mm256_storeu_ps(sc + j, _mm256_mul_ps(hsum8(acc), _mm256_set1_ps(scale)));
    }
  }
  // A head of 8 sums its products in hsum8's order, ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)),
  // in the tail as in the groups and as scoreKeysT8: a key's score is the same bits whichever path,
  // group or tail it falls in.
  if (hd == 8) {
    for (; j < jb; j++) {
      const __m256 prod = _mm256_mul_ps(_mm256_loadu_ps(q), load8(keys + j * stride));
      const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(prod, prod), _mm256_setzero_ps());
      sc[j] = _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1))) * scale;
    }
  }
#endif
  for (; j < jb; j++) sc[j] = dot(q, keys + j * stride, hd) * scale;
}

// -inf over [ja & ~7, ja) and [jb, (jb + 7) & ~7): the padding of the first and last groups of eight.
inline void padScores(float* sc, int ja, int jb) {
  for (int j = ja & ~7; j < ja; j++) sc[j] = -INFINITY;
  for (int j = jb; j < ((jb + 7) & ~7); j++) sc[j] = -INFINITY;
}

#if defined(__AVX2__)
// Heads of 8: a key is one vector, so scoring it against q row-wise spends a horizontal sum per eight
// products. Instead a tile's keys are transposed once (kT[d * ld + j]) and shared by every query of the
// task: eight keys then score with vertical products and sums against broadcasts of q.

// kT[d * ld + j] = keys[(j - j0) * 8 + d] for j in [j0, j1).
template <class T>
inline void transposeKeys8(float* kT, size_t ld, const T* keys, int j0, int j1) {
  int j = j0;
  for (; j + 8 <= j1; j += 8) {
    const T* k = keys + static_cast<size_t>(j - j0) * 8;
    __m256 r[8];
    for (int i = 0; i < 8; i++) r[i] = load8(k + i * 8);
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    const __m256 cols[8] = {
        _mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
        _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
        _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
        _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31)};
    for (int d = 0; d < 8; d++) _mm256_storeu_ps(kT + d * ld + j, cols[d]);
  }
  for (; j < j1; j++)
    for (int d = 0; d < 8; d++) kT[d * ld + j] = toFloat(keys[static_cast<size_t>(j - j0) * 8 + d]);
}

// Eight scores from transposed keys, summed in hsum8's order (see scoreKeys), so the row-wise path
// gives the same bits.
inline __m256 scoreGroupT8(const __m256 (&qb)[8], const float* kT, size_t ld, int j, __m256 scale) {
  __m256 p[8];
  TSLLM_UNROLL for (int d = 0; d < 8; d++) p[d] = _mm256_mul_ps(qb[d], _mm256_loadu_ps(kT + d * ld + j));
  const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(p[0], p[1]), _mm256_add_ps(p[2], p[3])),
                                 _mm256_add_ps(_mm256_add_ps(p[4], p[5]), _mm256_add_ps(p[6], p[7])));
  return _mm256_mul_ps(s, scale);
}

// sc[j] for j in [ja, jb) from transposed keys, and -inf over the rest of the first and last groups of
// eight, [ja & ~7, (jb + 7) & ~7), so that the softmax works on whole vectors.
inline void scoreKeysT8(float* sc, const float* q, const float* kT, size_t ld, int ja, int jb, float scale) {
  __m256 qb[8];
  for (int d = 0; d < 8; d++) qb[d] = _mm256_set1_ps(q[d]);
  const __m256 vscale = _mm256_set1_ps(scale);
  const int end = (jb + 7) & ~7;
  int j = ja & ~7;
  for (; j + 32 <= end; j += 32) {
    const __m256 s0 = scoreGroupT8(qb, kT, ld, j, vscale), s1 = scoreGroupT8(qb, kT, ld, j + 8, vscale);
    const __m256 s2 = scoreGroupT8(qb, kT, ld, j + 16, vscale), s3 = scoreGroupT8(qb, kT, ld, j + 24, vscale);
    _mm256_storeu_ps(sc + j, s0);
    _mm256_storeu_ps(sc + j + 8, s1);
    _mm256_storeu_ps(sc + j + 16, s2);
    _mm256_storeu_ps(sc + j + 24, s3);
  }
  for (; j < end; j += 8) _mm256_storeu_ps(sc + j, scoreGroupT8(qb, kT, ld, j, vscale));
  padScores(sc, ja, jb);
}

// softmaxWeights over whole groups of eight, [ja & ~7, (jb + 7) & ~7), where the padding scores are
// -inf: their weights are set to exactly 0 (the exp clamps its argument, so it would not give 0).
inline float softmaxWeightsPadded(float* sc, int ja, int jb, float max) {
  const __m256 vmax = _mm256_set1_ps(max), minusInf = _mm256_set1_ps(-INFINITY);
  __m256 vsum = _mm256_setzero_ps();
  const int end = (jb + 7) & ~7;
  for (int j = ja & ~7; j < end; j += 8) {
    const __m256 s = _mm256_loadu_ps(sc + j);
    const __m256 e = _mm256_andnot_ps(_mm256_cmp_ps(s, minusInf, _CMP_EQ_OQ), expNonPositive(_mm256_sub_ps(s, vmax)));
    _mm256_storeu_ps(sc + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  return hsum(vsum);
}
#endif

// In place: sc[j] = e^(sc[j] - max) for j in [ja, jb); returns their sum.
inline float softmaxWeights(float* sc, int ja, int jb, float max) {
  int j = ja;
  float sum = 0;
#if defined(__AVX2__)
  const __m256 vmax = _mm256_set1_ps(max);
  __m256 vsum = _mm256_setzero_ps();
  for (; j + 8 <= jb; j += 8) {
    const __m256 e = expNonPositive(_mm256_sub_ps(_mm256_loadu_ps(sc + j), vmax));
    _mm256_storeu_ps(sc + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  sum = hsum(vsum);
#endif
  for (; j < jb; j++) {
    sc[j] = std::exp(sc[j] - max);
    sum += sc[j];
  }
  return sum;
}

// max of sc[ja..jb)
inline float maxOf(const float* sc, int ja, int jb) {
  float m = -INFINITY;
  int j = ja;
#if defined(__AVX2__)
  if (jb - ja >= 8) {
    __m256 vm = _mm256_loadu_ps(sc + j);
    for (j += 8; j + 8 <= jb; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(sc + j));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    m = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
  }
#endif
  for (; j < jb; j++) m = std::max(m, sc[j]);
  return m;
}

#if defined(__AVX2__)
// acc[0..8G) += sum over j in [ja, jb) of w[j] * value_j[0..8G). A chain of FMAs into one register
// waits on each one's latency, so G chunks of the head times P interleaved runs of keys keep 4-8
// independent chains in flight (a head of 8 alone would otherwise be one serial chain).
template <int G, int P, class T>
inline void accumulateChunks(float* acc, const float* w, const T* values, size_t stride, int ja, int jb) {
  __m256 a[P][G];
  TSLLM_UNROLL for (int p = 0; p < P; p++)
    TSLLM_UNROLL for (int g = 0; g < G; g++) a[p][g] = p == 0 ? _mm256_loadu_ps(acc + 8 * g) : _mm256_setzero_ps();
  int j = ja;
  for (; j + P <= jb; j += P) {
    TSLLM_UNROLL for (int p = 0; p < P; p++) {
      const __m256 wj = _mm256_set1_ps(w[j + p]);
      const T* v = values + (j + p) * stride;
      TSLLM_UNROLL for (int g = 0; g < G; g++) a[p][g] = _mm256_fmadd_ps(wj, load8(v + 8 * g), a[p][g]);
    }
  }
  for (; j < jb; j++) {
    const __m256 wj = _mm256_set1_ps(w[j]);
    TSLLM_UNROLL for (int g = 0; g < G; g++) a[0][g] = _mm256_fmadd_ps(wj, load8(values + j * stride + 8 * g), a[0][g]);
  }
  TSLLM_UNROLL for (int g = 0; g < G; g++) {
    __m256 t = a[0][g];
    for (int p = 1; p < P; p++) t = _mm256_add_ps(t, a[p][g]);
    _mm256_storeu_ps(acc + 8 * g, t);
  }
}
#endif

// acc[0..hd) += sum over j in [ja, jb) of w[j] * value_j
template <class T>
inline void accumulateValues(float* acc, const float* w, const T* values, size_t stride, int ja, int jb, int hd) {
  int d = 0;
#if defined(__AVX2__)
  for (; d + 64 <= hd; d += 64) accumulateChunks<8, 1, T>(acc + d, w, values + d, stride, ja, jb);
  switch ((hd - d) / 8) {
    case 7: accumulateChunks<7, 1, T>(acc + d, w, values + d, stride, ja, jb); break;
    case 6: accumulateChunks<6, 1, T>(acc + d, w, values + d, stride, ja, jb); break;
    case 5: accumulateChunks<5, 1, T>(acc + d, w, values + d, stride, ja, jb); break;
    case 4: accumulateChunks<4, 2, T>(acc + d, w, values + d, stride, ja, jb); break;
    case 3: accumulateChunks<3, 2, T>(acc + d, w, values + d, stride, ja, jb); break;
    case 2: accumulateChunks<2, 2, T>(acc + d, w, values + d, stride, ja, jb); break;
    case 1: accumulateChunks<1, 4, T>(acc + d, w, values + d, stride, ja, jb); break;
    default: break;
  }
  d += (hd - d) / 8 * 8;
#endif
  for (; d < hd; d++) {
    float a = acc[d];
    for (int j = ja; j < jb; j++) a += w[j] * toFloat(values[j * stride + d]);
    acc[d] = a;
  }
}

#if defined(__AVX2__)
// The query heads of a GQA group read the same keys and values, so kHeadBlock of them go through a
// tile together: each key and value row is loaded once for all of them, and the independent chains
// of several heads hide the FMA latency a single head waits on. Every head still gets exactly the
// arithmetic of scoreKeys and accumulateValues, so blocking changes no bit.
#if defined(__AVX512F__)
constexpr int kHeadBlock = 4;  // 16 accumulators of the 32 registers this build has
#else
constexpr int kHeadBlock = 2;
#endif
constexpr int kBlockKeys = 4;

// The horizontal sums of a[0..3], each in hsum8's order, as four lanes.
inline __m128 hsum4Tree(const __m256* a) {
  const __m256 u = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
  return _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
}

// scoreKeys for kHeadBlock heads: sc + h * ld from q + h * hd. Needs hd % 8 == 0.
template <class T>
inline void scoreKeysHeads(float* sc, size_t ld, const float* q, const T* keys, size_t stride, int ja, int jb, int hd, float scale) {
  const __m128 vscale = _mm_set1_ps(scale);
  int j = ja;
  for (; j + kBlockKeys <= jb; j += kBlockKeys) {
    __m256 a[kHeadBlock][kBlockKeys];
    TSLLM_UNROLL for (int h = 0; h < kHeadBlock; h++)
      TSLLM_UNROLL for (int i = 0; i < kBlockKeys; i++) a[h][i] = _mm256_setzero_ps();
    for (int d = 0; d < hd; d += 8) {
      __m256 x[kHeadBlock];
      TSLLM_UNROLL for (int h = 0; h < kHeadBlock; h++) x[h] = _mm256_loadu_ps(q + static_cast<size_t>(h) * hd + d);
      TSLLM_UNROLL for (int i = 0; i < kBlockKeys; i++) {
        const __m256 k = load8(keys + (j + i) * stride + d);
        TSLLM_UNROLL for (int h = 0; h < kHeadBlock; h++) a[h][i] = _mm256_fmadd_ps(x[h], k, a[h][i]);
      }
    }
    TSLLM_UNROLL for (int h = 0; h < kHeadBlock; h++) _mm_storeu_ps(sc + h * ld + j, _mm_mul_ps(hsum4Tree(a[h]), vscale));
  }
  for (int h = 0; h < kHeadBlock; h++) scoreKeys(sc + h * ld, q + static_cast<size_t>(h) * hd, keys, stride, j, jb, hd, scale);
}

// accumulateValues for kHeadBlock heads: acc + h * hd += sum of w[h * ld + j] * value_j. Needs
// hd % 64 == 0, where accumulateValues runs one chain per element over the keys in order (P = 1); the
// vector width does not change an element's chain.
template <class T>
inline void accumulateValuesHeads(float* acc, const float* w, size_t ld, const T* values, size_t stride, int ja, int jb, int hd) {
#if defined(__AVX512F__)
  using V = __m512;
  constexpr int kLanes = 16;
  auto load = [](const float* p) { return _mm512_loadu_ps(p); };
  auto loadValues = [](const T* p) { return load16(p); };
  auto store = [](float* p, V v) { _mm512_storeu_ps(p, v); };
  auto broadcast = [](float x) { return _mm512_set1_ps(x); };
  auto fma = [](V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); };
#else
  using V = __m256;
  constexpr int kLanes = 8;
  auto load = [](const float* p) { return _mm256_loadu_ps(p); };
  auto loadValues = [](const T* p) { return load8(p); };
  auto store = [](float* p, V v) { _mm256_storeu_ps(p, v); };
  auto broadcast = [](float x) { return _mm256_set1_ps(x); };
  auto fma = [](V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); };
#endif
  constexpr int kChunks = 4, kSpan = kChunks * kLanes;
  for (int d = 0; d < hd; d += kSpan) {
    V a[kHeadBlock][kChunks];
    TSLLM_UNROLL for (int h = 0; h < kHeadBlock; h++)
      TSLLM_UNROLL for (int c = 0; c < kChunks; c++) a[h][c] = load(acc + static_cast<size_t>(h) * hd + d + c * kLanes);
    for (int j = ja; j < jb; j++) {
      V b[kHeadBlock];
      TSLLM_UNROLL for (int h = 0; h < kHeadBlock; h++) b[h] = broadcast(w[h * ld + j]);
      const T* v = values + j * stride + d;
      TSLLM_UNROLL for (int c = 0; c < kChunks; c++) {
        const V x = loadValues(v + c * kLanes);
        TSLLM_UNROLL for (int h = 0; h < kHeadBlock; h++) a[h][c] = fma(b[h], x, a[h][c]);
      }
    }
    TSLLM_UNROLL for (int h = 0; h < kHeadBlock; h++)
      TSLLM_UNROLL for (int c = 0; c < kChunks; c++) store(acc + static_cast<size_t>(h) * hd + d + c * kLanes, a[h][c]);
  }
}
#endif

// sc[j] = cap * tanh(sc[j] / cap) over [ja, jb): Gemma 2's soft-capped logits (the -inf padding of
// heads of 8 lies outside and stays -inf).
inline void softcapScores(float* sc, int ja, int jb, float cap) {
  for (int j = ja; j < jb; j++) sc[j] = cap * std::tanh(sc[j] / cap);
}

// One task per (sequence, KV head, tile of queries). Keys are visited a tile at a time, with an online
// softmax across tiles (running max and sum, output rescaled when the max grows), so no score matrix is
// ever built. A tile spans several cache blocks, up to kKeyTileFloats floats of keys: the max, rescale
// and exponentials are paid once per tile rather than per 16-key block, which matters for small heads.
// f32, f16 and bf16 are read in place, block by block (a decode token's attention once spent a third
// of its time copying f16 tiles to f32); the quantized formats' tiles of this head are dequantized
// once, for every query of the task and every query head sharing the KV head (GQA).
constexpr int kQueryTile = 16;
constexpr int kKeyTileFloats = 8192;
constexpr int kMinStatesForTransposedKeys = 4;

template <class Fmt>
void attentionFor(ThreadPool& pool, float* out, const float* q, const uint8_t* kCache, const uint8_t* vCache,
                  const AttentionSeqDesc* seqs, int numSeqs, const AttentionParams& p) {
  using Elem = typename Fmt::InPlace;
  constexpr bool kInPlace = !std::is_void_v<Elem>;
  const int group = p.numHeads / p.numKvHeads;
  const int hd = p.headDim, qDim = p.numHeads * hd, bs = p.blockSize;
  const size_t headBytes = Fmt::headBytes(hd), headRunBytes = headBytes * bs, blockBytes = headRunBytes * p.numKvHeads;
  const int tileKeys = bs * std::max(1, kKeyTileFloats / (bs * hd));
  // A head's records are contiguous in a block, so rows are hd elements apart in place and in a tile.
  const size_t rowStride = static_cast<size_t>(hd);
#if defined(__AVX2__)
  const bool head8 = hd == 8;
#else
  const bool head8 = false;
#endif
  // Room for the padding of the last group of eight.
  const size_t kTLd = static_cast<size_t>(tileKeys) + 8;
#if defined(__AVX2__)
  constexpr int kBlockHeadsOf = kHeadBlock;
#else
  constexpr int kBlockHeadsOf = 1;
#endif
  // Heads go through a tile kBlockHeadsOf at a time where their chains allow it (see kHeadBlock).
  const bool blockHeads = kBlockHeadsOf > 1 && hd % 64 == 0;
  const size_t scoresLd = static_cast<size_t>(tileKeys) + 8;
  struct Task { int seq, kvHead, q0, q1; };
  std::vector<Task> tasks;
  for (int s = 0; s < numSeqs; s++) {
    for (int h = 0; h < p.numKvHeads; h++) {
      for (int q0 = 0; q0 < seqs[s].queryLen; q0 += kQueryTile) tasks.push_back({s, h, q0, std::min(seqs[s].queryLen, q0 + kQueryTile)});
    }
  }
  pool.run(static_cast<int>(tasks.size()), [&](int t, int) {
    const Task& task = tasks[t];
    const AttentionSeqDesc& seq = seqs[task.seq];
    const int nq = task.q1 - task.q0, states = nq * group;
    float* acc = threadScratch(0, static_cast<size_t>(states) * hd);
    float* maxv = threadScratch(1, states);
    float* sum = threadScratch(2, states);
    float* scores = threadScratch(3, scoresLd * kBlockHeadsOf);
    float* kTile = kInPlace ? nullptr : threadScratch(4, static_cast<size_t>(tileKeys) * hd);
    float* vTile = kInPlace ? nullptr : threadScratch(5, static_cast<size_t>(tileKeys) * hd);
    // Transposing a tile pays off once several query heads share it (a decode token alone: row-wise).
    const bool keysT8 = head8 && states >= kMinStatesForTransposedKeys;
    float* kT = keysT8 ? threadScratch(6, static_cast<size_t>(kTLd) * 8) : nullptr;
    (void)kT;  // used by the AVX2 path only
    std::fill(acc, acc + static_cast<size_t>(states) * hd, 0.0f);
    std::fill(maxv, maxv + states, -INFINITY);
    std::fill(sum, sum + states, 0.0f);
    const int posBase = seq.contextLen - seq.queryLen;
    auto firstVisible = [&](int pos) { return p.slidingWindow > 0 ? std::max(0, pos - p.slidingWindow + 1) : 0; };
    auto blockRecords = [&](const uint8_t* cache, int j) {
      return cache + static_cast<size_t>(seq.blockTable[j / bs]) * blockBytes + static_cast<size_t>(task.kvHead) * headRunBytes;
    };
    // fn(keys, values, first, a, b): the tile's keys [first + a, first + b) (tile-relative), which lie
    // in one contiguous run starting at keys/values (a block in place, or the whole dequantized tile).
    auto forRuns = [&](int t0, int ja, int jb, auto&& fn) {
      if constexpr (kInPlace) {
        for (int j = ja; j < jb;) {
          const int first = (t0 + j) / bs * bs - t0, end = std::min(jb, first + bs);
          fn(reinterpret_cast<const Elem*>(blockRecords(kCache, t0 + j)), reinterpret_cast<const Elem*>(blockRecords(vCache, t0 + j)), first, j - first, end - first);
          j = end;
        }
      } else {
        (void)t0;
        fn(static_cast<const float*>(kTile), static_cast<const float*>(vTile), 0, ja, jb);
      }
    };
    // The online softmax of one state over a tile: scores sc[ja, jb) become the weights of the values,
    // its max and sum move on, and its output so far is rescaled when the max grows.
    auto softmaxTile = [&](float* sc, int st, int ja, int jb) {
      const int sa = head8 ? ja & ~7 : ja, sb = head8 ? (jb + 7) & ~7 : jb;
      const float tileMax = maxOf(sc, sa, sb);
      float* accSt = acc + static_cast<size_t>(st) * hd;
      if (tileMax > maxv[st]) {
        // Nothing to rescale before the first tile (a libm call per query head, otherwise).
        if (maxv[st] != -INFINITY) {
          const float rescale = std::exp(maxv[st] - tileMax);
          sum[st] *= rescale;
          for (int d = 0; d < hd; d++) accSt[d] *= rescale;
        }
        maxv[st] = tileMax;
      }
#if defined(__AVX2__)
      if (head8) {
        sum[st] += softmaxWeightsPadded(sc, ja, jb, maxv[st]);
        return;
      }
#endif
      sum[st] += softmaxWeights(sc, ja, jb, maxv[st]);
    };
    const int lo = firstVisible(posBase + task.q0), hi = posBase + task.q1 - 1;
    // Tiles start at multiples of tileKeys, wherever the task's queries begin: a query's keys are
    // grouped the same whether it is decoded alone or inside a prefill chunk.
    // A decode step finds each layer's cache cold. Read in place by the score and value loops, whose
    // long FMA chains fill the out-of-order window, a tile's lines came in a few at a time; a tight
    // loop of loads over the tile's runs first keeps many misses in flight and leaves the tile in L1
    // and L2 for them (decode attention -30% on Zen 5; prefetch instructions, a tile or two ahead,
    // into L1 or L2, measured no change). Quantized tiles are read by such a loop already (readRun).
    auto touchTile = [&](int from, int to) {
      uint64_t sink = 0;
      for (int j = from / bs * bs; j < to; j += bs) {
        const uint8_t* k = blockRecords(kCache, j);
        const uint8_t* v = blockRecords(vCache, j);
        for (size_t b = 0; b < headRunBytes; b += 64) sink += loadU16(k + b) ^ loadU16(v + b);
      }
      asm volatile("" : : "r"(sink));
    };
    for (int t0 = lo / tileKeys * tileKeys; t0 <= hi; t0 += tileKeys) {
      const int ta = std::max(t0, lo) - t0, tb = std::min(hi + 1, t0 + tileKeys) - t0;
      if constexpr (kInPlace) touchTile(t0 + ta, t0 + tb);
      if constexpr (!kInPlace) {
        for (int j = ta; j < tb;) {
          const int offset = (t0 + j) % bs, n = std::min(tb - j, bs - offset);
          Fmt::readRun(kTile + static_cast<size_t>(j) * hd, blockRecords(kCache, t0 + j) + offset * headBytes, hd, n);
          Fmt::readRun(vTile + static_cast<size_t>(j) * hd, blockRecords(vCache, t0 + j) + offset * headBytes, hd, n);
          j += n;
        }
      }
#if defined(__AVX2__)
      if (keysT8) {
        if constexpr (kInPlace) {
          forRuns(t0, ta, tb, [&](const auto* keys, const auto*, int first, int a, int b) { transposeKeys8(kT, kTLd, keys + static_cast<size_t>(a) * 8, first + a, first + b); });
        } else {
          transposeKeys8(kT, kTLd, kTile + static_cast<size_t>(ta) * 8, ta, tb);
        }
      }
#endif
      for (int qi = task.q0; qi < task.q1; qi++) {
        const int pos = posBase + qi;
        const int ja = std::max(t0, firstVisible(pos)) - t0, jb = std::min(pos + 1, t0 + tileKeys) - t0;
        if (ja >= jb) continue;
        const float* qh = q + (static_cast<size_t>(seq.queryStart) + qi) * qDim + static_cast<size_t>(task.kvHead) * group * hd;
        for (int g = 0; g < group;) {
          const int heads = blockHeads && group - g >= kBlockHeadsOf ? kBlockHeadsOf : 1;
          const int st0 = (qi - task.q0) * group + g;
          const float* qg = qh + static_cast<size_t>(g) * hd;
#if defined(__AVX2__)
          if (heads > 1) {
            forRuns(t0, ja, jb, [&](const auto* keys, const auto*, int first, int a, int b) { scoreKeysHeads(scores + first, scoresLd, qg, keys, rowStride, a, b, hd, p.scale); });
          } else if (keysT8) {
            scoreKeysT8(scores, qg, kT, kTLd, ja, jb, p.scale);
          }
#endif
          if (heads == 1 && !keysT8) {
            forRuns(t0, ja, jb, [&](const auto* keys, const auto*, int first, int a, int b) { scoreKeys(scores + first, qg, keys, rowStride, a, b, hd, p.scale); });
            // Heads of 8 take the softmax over whole groups of eight, padded with -inf.
            if (head8) padScores(scores, ja, jb);
          }
          if (p.softcap > 0) {
            for (int h = 0; h < heads; h++) softcapScores(scores + h * scoresLd, ja, jb, p.softcap);
          }
          for (int h = 0; h < heads; h++) softmaxTile(scores + h * scoresLd, st0 + h, ja, jb);
#if defined(__AVX2__)
          if (heads > 1) {
            forRuns(t0, ja, jb, [&](const auto*, const auto* values, int first, int a, int b) { accumulateValuesHeads(acc + static_cast<size_t>(st0) * hd, scores + first, scoresLd, values, rowStride, a, b, hd); });
          }
#endif
          if (heads == 1) {
            forRuns(t0, ja, jb, [&](const auto*, const auto* values, int first, int a, int b) { accumulateValues(acc + static_cast<size_t>(st0) * hd, scores + first, values, rowStride, a, b, hd); });
          }
          g += heads;
        }
      }
    }
    for (int qi = task.q0; qi < task.q1; qi++) {
      for (int g = 0; g < group; g++) {
        const int st = (qi - task.q0) * group + g;
        float* o = out + (static_cast<size_t>(seq.queryStart) + qi) * qDim + (static_cast<size_t>(task.kvHead) * group + g) * hd;
        float scale = 1.0f, total = sum[st];
        if (p.sinks) {
          const float sink = p.sinks[task.kvHead * group + g], m = std::max(maxv[st], sink);
          scale = std::exp(maxv[st] - m);
          total = total * scale + std::exp(sink - m);
        }
        const float inv = scale / total;
        for (int d = 0; d < hd; d++) o[d] = acc[static_cast<size_t>(st) * hd + d] * inv;
      }
    }
  });
}

void attention(ThreadPool& pool, float* out, const float* q, const uint8_t* kCache, const uint8_t* vCache, KVDType dtype,
               const AttentionSeqDesc* seqs, int numSeqs, AttentionParams p) {
  withKvFormat(dtype, [&](auto fmt) { attentionFor<decltype(fmt)>(pool, out, q, kCache, vCache, seqs, numSeqs, p); });
}

}  // namespace TSLLM_ISA
}  // namespace tsllm
