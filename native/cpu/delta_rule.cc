// (Gated) delta rule on the CPU: ls_delta_rule_cpu and ls_delta_rule_step_cpu.
//
// Two algorithms compute the same thing:
//  - The fused recurrence (RecurrentBlock): one sweep over the state per token. The delta rule is separable
//    in the value columns (column j of S only ever meets column j of v), so each task owns a block of
//    columns of one head and keeps that K x block slice of S in L1 for the whole sequence. The sweep that
//    applies token t's rank-1 update also accumulates S^T k and S^T q for token t+1, so S is read and
//    written once per token.
//  - The chunked WY / UT-transform form (ChunkedHead, Yang et al. 2024): per chunk of C tokens,
//    T = (I + A)^-1 with A = strictly-lower(diag(beta) (K K^T . Gamma)) applied by forward substitution,
//    W = T diag(beta e^gamma) K, U = T diag(beta) V, V' = U - W S, O = e^gamma . (Q S) + (Q K^T . Gamma) V',
//    S <- e^gamma_C S + (e^(gamma_C - gamma) . K)^T V'. Decays only appear as exp of differences of
//    cumulative log-decays gamma within a chunk (gamma_t - gamma_s <= 0 for s <= t).
// Which is faster on a CPU, and the rule ls_delta_rule_cpu uses, are at ChooseAlgorithm below.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/delta_rule.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "cpu/matmul-inl.h"
#include "cpu/simd_math-inl.h"

#ifndef LONGSEQ_CPU_DELTA_RULE_ONCE
#define LONGSEQ_CPU_DELTA_RULE_ONCE
#include <math.h>
#include <string.h>

#include "cpu/delta_rule.h"
#include "cpu/scratch.h"
#include "cpu/status.h"
#include "cpu/thread_pool.h"
#include "longseq/longseq.h"

namespace ls {

// fla's l2norm: x / sqrt(sum(x^2) + eps).
constexpr float kL2NormEps = 1e-6f;

inline int64_t RoundUp(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

// out = x * factor, divided by its L2 norm first when `l2`; out is K floats.
inline void ScaleRow(const float* x, int64_t K, bool l2, float factor, float* out) {
  if (l2) {
    float sum = 0.0f;
    for (int64_t i = 0; i < K; ++i) sum += x[i] * x[i];
    factor /= sqrtf(sum + kL2NormEps);
  }
  for (int64_t i = 0; i < K; ++i) out[i] = x[i] * factor;
}

// Tokens whose normalised k, q and k . q the recurrence prepares at a time (two groups' worth are held); see
// PrepareTokens.
constexpr int64_t kTokenGroup = HWY_ARCH_WASM ? 16 : 1;

// `width`: the value columns of one recurrent task (RecurrentWidth()).
inline int64_t RecurrentScratchFloats(int64_t lanes, int64_t width, int64_t K) {
  return K * width + (4 * kTokenGroup + 1) * RoundUp(K, lanes) + RoundUp(2 * kTokenGroup, lanes) + 2 * width;
}

inline int64_t ChunkedScratchFloats(int64_t lanes, int64_t K, int64_t V, int64_t C) {
  const int64_t Kp = RoundUp(K, lanes), Vp = RoundUp(V, lanes), Cp = RoundUp(C, lanes);
  return K * Vp + 3 * C * Kp + K * Cp + C * Cp + 2 * C * Vp + 2 * Cp;
}

}  // namespace ls
#endif  // LONGSEQ_CPU_DELTA_RULE_ONCE

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// sum of x[i] y[i] over K floats, in vector partial sums.
template <class D>
HWY_INLINE float DotRow(D d, const float* x, const float* y, int64_t K) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  V acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * lanes <= K; i += 2 * lanes) {
    acc0 = Madd(hn::LoadU(d, x + i), hn::LoadU(d, y + i), acc0);
    acc1 = Madd(hn::LoadU(d, x + i + lanes), hn::LoadU(d, y + i + lanes), acc1);
  }
  if (i + lanes <= K) {
    acc0 = Madd(hn::LoadU(d, x + i), hn::LoadU(d, y + i), acc0);
    i += lanes;
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < K; ++i) sum += x[i] * y[i];
  return sum;
}

// The normalised k, q (times scale) and k . q of tokens [t0, t0 + count) of head h, each token t into row
// t % (2 kTokenGroup) of kbufs / qbufs ([2 kTokenGroup][Kp]) and kqs, in vectors. WASM calls it once per group
// of 16 tokens, in a call of its own: per token and scalar, these were three serial chains of K adds ahead of
// every sweep, and vectorised and inlined there they left V8's register allocator spilling the sweep's
// accumulators (120 -> 180-230 ms); grouped, B1 H8 T4096 went 160 -> 115 ms at K=V=128 and 45 -> 29 ms at
// K=V=64 (Node, relaxed SIMD, interleaved runs). Native code prepares token 0 here and each next token with
// ScaleRow just before the sweep that needs it, its loads overlapping the current token's work: groups of 16
// stalled on their cache misses (K=V=64 7.2 -> 9.9 ms), and this function per token, called ahead of v' and o,
// took 13 ms.
#if HWY_ARCH_WASM
#define LONGSEQ_PREPARE_TOKENS HWY_NOINLINE
#else
#define LONGSEQ_PREPARE_TOKENS HWY_INLINE  // called out of line, native RecurrentBlock measured 10% slower
#endif
template <class D>
LONGSEQ_PREPARE_TOKENS void PrepareTokens(D d, const ls_delta_rule_params& p, int64_t b, int64_t h, int64_t t0,
                                          int64_t count, int64_t Kp, float* kbufs, float* qbufs, float* kqs) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t K = p.key_dim;
  const bool l2 = p.use_qk_l2norm != 0;
  for (int64_t t = t0; t < t0 + count; ++t) {
    const int64_t r = t % (2 * kTokenGroup);
    const float* rows[2] = {p.k + ((b * p.seqlen + t) * p.heads + h) * K, p.q + ((b * p.seqlen + t) * p.heads + h) * K};
    float* outs[2] = {kbufs + r * Kp, qbufs + r * Kp};
    for (int j = 0; j < 2; ++j) {
      float factor = j == 0 ? 1.0f : p.scale;
      if (l2) factor /= sqrtf(DotRow(d, rows[j], rows[j], K) + kL2NormEps);
      const auto f = hn::Set(d, factor);
      int64_t i = 0;
      for (; i + lanes <= K; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(d, rows[j] + i), f), d, outs[j] + i);
      for (; i < K; ++i) outs[j][i] = rows[j][i] * factor;
    }
    kqs[r] = DotRow(d, outs[0], outs[1], K);
  }
}

// Value-column vectors per recurrent task: that many vectors each of S^T k, S^T q and v' stay in registers
// (12 of AVX-512's 32). The 16-register targets spill some, but fewer vectors cost more per row: in WASM
// (callgrind, K=V=128) 4 vectors took 78-89k instructions per token·head, 2 vectors 124k.
constexpr int kRecurrentVecs = 4;

// The fused recurrence for batch b, value head hv, value columns [c0, c0 + cols), cols <= NV * lanes.
template <int NV>
void RecurrentBlock(const ls_delta_rule_params& p, int64_t b, int64_t hv, int64_t c0, int64_t cols,
                    float* scratch) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t K = p.key_dim, Vd = p.value_dim, T = p.seqlen, H = p.heads, HV = p.value_heads;
  const int64_t h = hv / (HV / H);
  const int64_t width = NV * lanes;  // this block's columns, padded to whole vectors
  const int64_t Kp = RoundUp(K, lanes);
  const bool l2 = p.use_qk_l2norm != 0;
  float* S = scratch;  // [K][width]
  constexpr int64_t kRows = 2 * kTokenGroup;
  float* kbufs = S + K * width;                // [kRows][Kp] normalised k of this and the next group of tokens
  float* qbufs = kbufs + kRows * Kp;           // [kRows][Kp] normalised q times scale
  float* kscaled = qbufs + kRows * Kp;         // [Kp] k / c for the sweep
  float* kqs = kscaled + Kp;                   // [kRows] k . q
  float* vbuf = kqs + RoundUp(kRows, lanes);  // [width], aligned
  float* obuf = vbuf + width;                  // [width]

  // Padding columns start (and stay) zero: their v is 0, so v' and every update there is 0.
  const float* init = p.initial_state ? p.initial_state + (b * HV + hv) * K * Vd + c0 : nullptr;
  for (int64_t i = 0; i < K; ++i) {
    for (int64_t c = 0; c < width; ++c) S[i * width + c] = (init && c < cols) ? init[i * Vd + c] : 0.0f;
  }
  memset(vbuf, 0, sizeof(float) * 2 * width);

  PrepareTokens(d, p, b, h, 0, T < kTokenGroup ? T : kTokenGroup, Kp, kbufs, qbufs, kqs);

  // kk = S^T k and qq = S^T q of the coming token, against the state before its decay.
  V kk[NV], qq[NV];
  for (int v = 0; v < NV; ++v) kk[v] = qq[v] = hn::Zero(d);
  for (int64_t i = 0; i < K; ++i) {
    const V ki = hn::Set(d, kbufs[i]), qi = hn::Set(d, qbufs[i]);
    for (int v = 0; v < NV; ++v) {
      const V s = hn::Load(d, S + i * width + v * lanes);
      kk[v] = Madd(ki, s, kk[v]);
      qq[v] = Madd(qi, s, qq[v]);
    }
  }

  // S holds the state divided by c, the product of the decays since they were last multiplied into it; the
  // decay enters the per-token vectors as c. Without FMA (WASM) the sweep below then adds (k / c) v'^T with no
  // decay multiply: three multiply-adds per state element and token instead of four, 204 -> 147 ms at B1 H8
  // K=V=128 T4096 in WASM. With FMA the sweep is bound by its S^T k and S^T q accumulation chains, not its
  // operation count, and folding c into S every token measured faster (AVX-512: 33.5 against 37 ms), so there
  // c is multiplied in by each sweep (kFoldDecay) and stays a single token's decay. When c would leave
  // [2^-40, 2^40] (where 1 / c loses range: strong gating, a growing or NaN gate) it is multiplied into S, S^T k
  // and S^T q, and starts again at 1.
  constexpr bool kFoldDecay = HWY_NATIVE_FMA;
  constexpr float kRange = 1099511627776.0f;  // 2^40
  float c = 1.0f;
  for (int64_t t = 0; t < T; ++t) {
    // The next group's k and q are needed by this token's sweep (WASM; native code prepares one token, below).
    if (kTokenGroup > 1 && (t + 1) % kTokenGroup == 0 && t + 1 < T) {
      PrepareTokens(d, p, b, h, t + 1, T - t - 1 < kTokenGroup ? T - t - 1 : kTokenGroup, Kp, kbufs, qbufs, kqs);
    }
    const float* kc = kbufs + (t % kRows) * Kp;
    const float* qc = qbufs + (t % kRows) * Kp;
    const int64_t head_row = (b * T + t) * HV + hv;
    c *= p.g ? expf(p.g[head_row]) : 1.0f;
    if (!(c >= 1.0f / kRange && c <= kRange)) {
      const V scale = hn::Set(d, c);
      for (float* row = S; row < S + K * width; row += lanes) hn::Store(hn::Mul(scale, hn::Load(d, row)), d, row);
      for (int v = 0; v < NV; ++v) kk[v] = hn::Mul(scale, kk[v]), qq[v] = hn::Mul(scale, qq[v]);
      c = 1.0f;
    }
    const V decay = hn::Set(d, c);  // decay S^T k of the true state = c times kk (and qq) of the held one
    const float inv_c = 1.0f / c;
    const V beta = hn::Set(d, p.beta[head_row]);
    float kq_scalar = 0.0f;
    if (kTokenGroup > 1) {
      kq_scalar = kqs[t % kRows];
    } else {
      for (int64_t i = 0; i < K; ++i) kq_scalar += kc[i] * qc[i];
    }
    const V kq = hn::Set(d, kq_scalar);

    // v' = beta (v - decay S^T k);  o = decay S^T q + v' (k . q)
    const float* v_row = p.v + head_row * Vd + c0;
    const bool full = cols == width;
    if (!full) memcpy(vbuf, v_row, sizeof(float) * cols);
    V vp[NV];
    for (int v = 0; v < NV; ++v) {
      const V vin = full ? hn::LoadU(d, v_row + v * lanes) : hn::Load(d, vbuf + v * lanes);
      vp[v] = hn::Mul(beta, Nmadd(decay, kk[v], vin));
      const V o = Madd(vp[v], kq, hn::Mul(decay, qq[v]));
      if (full) {
        hn::StoreU(o, d, p.o + head_row * Vd + c0 + v * lanes);
      } else {
        hn::Store(o, d, obuf + v * lanes);
      }
    }
    if (!full) memcpy(p.o + head_row * Vd + c0, obuf, sizeof(float) * cols);

    // S <- c S + k v'^T (kFoldDecay; then c = 1) or S + (k / c) v'^T, accumulating S^T k and S^T q for token t + 1
    // in the same sweep.
    if (t + 1 < T) {
      float* kn = kbufs + ((t + 1) % kRows) * Kp;
      float* qn = qbufs + ((t + 1) % kRows) * Kp;
      if (kTokenGroup == 1) {
        ScaleRow(p.k + ((b * T + t + 1) * H + h) * K, K, l2, 1.0f, kn);
        ScaleRow(p.q + ((b * T + t + 1) * H + h) * K, K, l2, p.scale, qn);
      }
      if (!kFoldDecay) {
        for (int64_t i = 0; i < K; ++i) kscaled[i] = kc[i] * inv_c;  // broadcast from memory below
      }
      const float* ks = kFoldDecay ? kc : kscaled;
      for (int v = 0; v < NV; ++v) kk[v] = qq[v] = hn::Zero(d);
      for (int64_t i = 0; i < K; ++i) {
        const V ki = hn::Set(d, ks[i]), kni = hn::Set(d, kn[i]), qni = hn::Set(d, qn[i]);
        float* row = S + i * width;
        for (int v = 0; v < NV; ++v) {
          const V held = hn::Load(d, row + v * lanes);
          const V s = Madd(ki, vp[v], kFoldDecay ? hn::Mul(decay, held) : held);
          hn::Store(s, d, row + v * lanes);
          kk[v] = Madd(kni, s, kk[v]);
          qq[v] = Madd(qni, s, qq[v]);
        }
      }
      if (kFoldDecay) c = 1.0f;
    } else {
      // The last token: c goes into the state here, which is then the true one.
      for (int64_t i = 0; i < K; ++i) {
        const V ki = hn::Set(d, kc[i]);
        float* row = S + i * width;
        for (int v = 0; v < NV; ++v) {
          hn::Store(Madd(ki, vp[v], hn::Mul(decay, hn::Load(d, row + v * lanes))), d, row + v * lanes);
        }
      }
    }
  }

  if (p.final_state) {
    float* out = p.final_state + (b * HV + hv) * K * Vd + c0;
    for (int64_t i = 0; i < K; ++i) memcpy(out + i * Vd, S + i * width, sizeof(float) * cols);
  }
}

void Recurrent(const ls_delta_rule_params& p, int64_t b, int64_t hv, int64_t c0, float* scratch) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
  const int64_t cols = p.value_dim - c0 < kRecurrentVecs * lanes ? p.value_dim - c0 : kRecurrentVecs * lanes;
  // Narrow heads (value_dim below a block) use fewer vectors rather than computing padding.
  switch ((cols + lanes - 1) / lanes) {
    case 1:
      return RecurrentBlock<1>(p, b, hv, c0, cols, scratch);
    case 2:
      return RecurrentBlock<2>(p, b, hv, c0, cols, scratch);
    case 3:
      return RecurrentBlock<3>(p, b, hv, c0, cols, scratch);
    default:
      return RecurrentBlock<kRecurrentVecs>(p, b, hv, c0, cols, scratch);
  }
}

// X[t] -= sum_{s < t} a[s] X[s] over `width` columns (a multiple of lanes): one forward-substitution row.
template <class D>
HWY_INLINE void SubtractEarlierRows(D d, int64_t t, const float* a, float* X, int64_t ld, int64_t width) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  float* row = X + t * ld;
  int64_t j = 0;
  for (; j + 4 * lanes <= width; j += 4 * lanes) {
    V acc0 = hn::Load(d, row + j), acc1 = hn::Load(d, row + j + lanes);
    V acc2 = hn::Load(d, row + j + 2 * lanes), acc3 = hn::Load(d, row + j + 3 * lanes);
    for (int64_t s = 0; s < t; ++s) {
      const V as = hn::Set(d, a[s]);
      const float* xs = X + s * ld + j;
      acc0 = Nmadd(as, hn::Load(d, xs), acc0);
      acc1 = Nmadd(as, hn::Load(d, xs + lanes), acc1);
      acc2 = Nmadd(as, hn::Load(d, xs + 2 * lanes), acc2);
      acc3 = Nmadd(as, hn::Load(d, xs + 3 * lanes), acc3);
    }
    hn::Store(acc0, d, row + j);
    hn::Store(acc1, d, row + j + lanes);
    hn::Store(acc2, d, row + j + 2 * lanes);
    hn::Store(acc3, d, row + j + 3 * lanes);
  }
  for (; j < width; j += lanes) {
    V acc = hn::Load(d, row + j);
    for (int64_t s = 0; s < t; ++s) acc = Nmadd(hn::Set(d, a[s]), hn::Load(d, X + s * ld + j), acc);
    hn::Store(acc, d, row + j);
  }
}

// row[0, width) *= factor
template <class D>
HWY_INLINE void ScaleVectors(D d, float* row, int64_t width, float factor) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto f = hn::Set(d, factor);
  for (int64_t j = 0; j < width; j += lanes) hn::Store(hn::Mul(f, hn::Load(d, row + j)), d, row + j);
}

// The chunked form for batch b, value head hv, all value columns.
void ChunkedHead(const ls_delta_rule_params& p, int64_t b, int64_t hv, float* scratch) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t K = p.key_dim, Vd = p.value_dim, T = p.seqlen, H = p.heads, HV = p.value_heads;
  const int64_t h = hv / (HV / H);
  const int64_t C = p.chunk_size;
  const int64_t Kp = RoundUp(K, lanes), Vp = RoundUp(Vd, lanes), Cp = RoundUp(C, lanes);
  float* S = scratch;          // [K][Vp] state
  float* Kc = S + K * Vp;      // [C][Kp] keys (normalised)
  float* Qc = Kc + C * Kp;     // [C][Kp] queries (normalised, times scale)
  float* Wm = Qc + C * Kp;     // [C][Kp] W
  float* Kt = Wm + C * Kp;     // [K][Cp] keys transposed
  float* G = Kt + K * Cp;      // [C][Cp] K K^T, then A; later Q K^T . Gamma
  float* U = G + C * Cp;       // [C][Vp] beta V, then U, then V'
  float* O = U + C * Vp;       // [C][Vp] outputs
  float* gamma = O + C * Vp;   // [Cp] cumulative log-decay within the chunk
  float* beta = gamma + Cp;    // [Cp]
  const bool l2 = p.use_qk_l2norm != 0;
  const bool gated = p.g != nullptr;

  // Every padding column is zero and stays zero through the products below.
  memset(scratch, 0, sizeof(float) * ChunkedScratchFloats(lanes, K, Vd, C));
  if (p.initial_state) {
    const float* init = p.initial_state + (b * HV + hv) * K * Vd;
    for (int64_t i = 0; i < K; ++i) memcpy(S + i * Vp, init + i * Vd, sizeof(float) * Vd);
  }

  for (int64_t t0 = 0; t0 < T; t0 += C) {
    if (Cancelled(p.cancel)) return;
    const int64_t Cc = T - t0 < C ? T - t0 : C;
    float cumulative = 0.0f;
    for (int64_t t = 0; t < Cc; ++t) {
      const int64_t token = (b * T + t0 + t) * H + h;
      const int64_t head_row = (b * T + t0 + t) * HV + hv;
      ScaleRow(p.k + token * K, K, l2, 1.0f, Kc + t * Kp);
      ScaleRow(p.q + token * K, K, l2, p.scale, Qc + t * Kp);
      beta[t] = p.beta[head_row];
      const float* v = p.v + head_row * Vd;
      for (int64_t j = 0; j < Vd; ++j) U[t * Vp + j] = beta[t] * v[j];
      if (gated) cumulative += p.g[head_row];
      gamma[t] = cumulative;
    }
    for (int64_t t = Cc; t < Cp; ++t) gamma[t] = cumulative;  // padding: finite, masked out below
    // The last chunk may be short: clear the rows and columns past Cc that the products read.
    if (Cc < C) {
      memset(Kt, 0, sizeof(float) * K * Cp);
      memset(U + Cc * Vp, 0, sizeof(float) * (C - Cc) * Vp);
    }
    for (int64_t t = 0; t < Cc; ++t) {
      for (int64_t i = 0; i < K; ++i) Kt[i * Cp + t] = Kc[t * Kp + i];
    }

    // A[t][s] = beta_t e^(gamma_t - gamma_s) (k_t . k_s) for s < t; W[t] = beta_t e^gamma_t k_t.
    MatMul(d, Cc, Cp, K, Kc, Kp, 1, 1.0f, Kt, Cp, G, Cp, false);
    for (int64_t t = 0; t < Cc; ++t) {
      float* row = G + t * Cp;
      const V scale_t = hn::Set(d, beta[t]);
      if (gated) {
        const V gamma_t = hn::Set(d, gamma[t]);
        for (int64_t s = 0; s < Cp; s += lanes) {
          const V decay = FastExp(d, hn::Sub(gamma_t, hn::Load(d, gamma + s)));
          hn::Store(hn::Mul(hn::Mul(scale_t, decay), hn::Load(d, row + s)), d, row + s);
        }
      } else {
        ScaleVectors(d, row, Cp, beta[t]);
      }
      memcpy(Wm + t * Kp, Kc + t * Kp, sizeof(float) * Kp);
      ScaleVectors(d, Wm + t * Kp, Kp, beta[t] * (gated ? expf(gamma[t]) : 1.0f));
    }
    // (I + A) [U | W] = [beta V | beta e^gamma K], by forward substitution.
    for (int64_t t = 1; t < Cc; ++t) {
      SubtractEarlierRows(d, t, G + t * Cp, U, Vp, Vp);
      SubtractEarlierRows(d, t, G + t * Cp, Wm, Kp, Kp);
    }
    // V' = U - W S
    MatMul(d, Cc, Vp, K, Wm, Kp, 1, -1.0f, S, Vp, U, Vp, true);
    // O = e^gamma . (Q S) + (Q K^T . Gamma_causal) V'
    MatMul(d, Cc, Vp, K, Qc, Kp, 1, 1.0f, S, Vp, O, Vp, false);
    if (gated) {
      for (int64_t t = 0; t < Cc; ++t) ScaleVectors(d, O + t * Vp, Vp, expf(gamma[t]));
    }
    MatMul(d, Cc, Cp, K, Qc, Kp, 1, 1.0f, Kt, Cp, G, Cp, false);
    for (int64_t t = 0; t < Cc; ++t) {
      float* row = G + t * Cp;
      const V gamma_t = hn::Set(d, gamma[t]);
      for (int64_t s = 0; s < Cp; s += lanes) {
        // Keep s <= t; the rest (including padding) must be exactly zero.
        const V index = hn::Add(hn::Set(d, static_cast<float>(s)), hn::Iota(d, 0.0f));
        const auto causal = hn::Le(index, hn::Set(d, static_cast<float>(t)));
        V value = hn::Load(d, row + s);
        if (gated) value = hn::Mul(value, FastExp(d, hn::Sub(gamma_t, hn::Load(d, gamma + s))));
        hn::Store(hn::IfThenElseZero(causal, value), d, row + s);
      }
    }
    MatMul(d, Cc, Vp, Cc, G, Cp, 1, 1.0f, U, Vp, O, Vp, true);
    for (int64_t t = 0; t < Cc; ++t) {
      memcpy(p.o + ((b * T + t0 + t) * HV + hv) * Vd, O + t * Vp, sizeof(float) * Vd);
    }

    // S <- e^gamma_C S + (e^(gamma_C - gamma) . K)^T V'
    if (gated) {
      const float last = gamma[Cc - 1];
      for (int64_t i = 0; i < K; ++i) ScaleVectors(d, S + i * Vp, Vp, expf(last));
      for (int64_t t = 0; t < Cc; ++t) ScaleVectors(d, U + t * Vp, Vp, expf(last - gamma[t]));
    }
    MatMul(d, K, Vp, Cc, Kt, Cp, 1, 1.0f, U, Vp, S, Vp, true);
  }

  if (p.final_state) {
    float* out = p.final_state + (b * HV + hv) * K * Vd;
    for (int64_t i = 0; i < K; ++i) memcpy(out + i * Vd, S + i * Vp, sizeof(float) * Vd);
  }
}

int64_t DeltaLanes() { return static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>())); }

int64_t RecurrentWidth() { return kRecurrentVecs * DeltaLanes(); }

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ls {
HWY_EXPORT(Recurrent);
HWY_EXPORT(ChunkedHead);
HWY_EXPORT(DeltaLanes);
HWY_EXPORT(RecurrentWidth);

ls_status ValidateDeltaRule(const ls_delta_rule_params& p) {
  ls_status s;
  if ((s = CheckPositive("batch", p.batch)) || (s = CheckPositive("seqlen", p.seqlen)) ||
      (s = CheckPositive("heads", p.heads)) || (s = CheckPositive("value_heads", p.value_heads)) ||
      (s = CheckPositive("key_dim", p.key_dim)) || (s = CheckPositive("value_dim", p.value_dim)) ||
      (s = CheckPointer("q", p.q)) || (s = CheckPointer("k", p.k)) || (s = CheckPointer("v", p.v)) ||
      (s = CheckPointer("beta", p.beta)) || (s = CheckPointer("o", p.o))) {
    return s;
  }
  if (p.value_heads % p.heads != 0) {
    return Fail(LS_INVALID_ARGUMENT, "value_heads (%lld) must be a multiple of heads (%lld)",
                static_cast<long long>(p.value_heads), static_cast<long long>(p.heads));
  }
  if (!isfinite(p.scale)) return Fail(LS_INVALID_ARGUMENT, "scale must be finite, got %g", p.scale);
  if (p.chunk_size != 16 && p.chunk_size != 32 && p.chunk_size != 64) {
    return Fail(LS_INVALID_ARGUMENT, "chunk_size must be 16, 32 or 64, got %d", p.chunk_size);
  }
  if (p.algorithm < LS_DELTA_AUTO || p.algorithm > LS_DELTA_RECURRENT) {
    return Fail(LS_INVALID_ARGUMENT, "algorithm must be 0 (auto), 1 (chunked) or 2 (recurrent), got %d", p.algorithm);
  }
  if (p.key_dim > 4096 || p.value_dim > 4096) {
    return Fail(LS_INVALID_ARGUMENT, "key_dim and value_dim must be <= 4096, got %lld and %lld",
                static_cast<long long>(p.key_dim), static_cast<long long>(p.value_dim));
  }
  return CheckStorage(p.storage);
}

ls_delta_rule_params DeltaRuleStepAsRule(const ls_delta_rule_step_params& p) {
  ls_delta_rule_params rule = {};
  rule.threads = p.threads;
  rule.batch = p.batch;
  rule.seqlen = 1;
  rule.heads = p.heads;
  rule.value_heads = p.value_heads;
  rule.key_dim = p.key_dim;
  rule.value_dim = p.value_dim;
  rule.q = p.q;
  rule.k = p.k;
  rule.v = p.v;
  rule.beta = p.beta;
  rule.g = p.g;
  rule.initial_state = p.state;
  rule.scale = p.scale;
  rule.use_qk_l2norm = p.use_qk_l2norm;
  rule.chunk_size = 64;
  rule.algorithm = LS_DELTA_RECURRENT;
  rule.o = p.o;
  rule.final_state = p.state;
  rule.storage = p.storage;
  return rule;
}

namespace {

// The recurrence does 3 K V multiply-adds per token and head against the chunked form's ~5.5 K V + 2.5 C K
// (C = 64), but it is a chain of dependent sweeps while the chunked form is matrix products. Measured at the
// C API, one thread, gated, B1 H8, M token·heads/s (recurrent / chunked):
//   AVX-512: K=V=64 T4096 4.21 / 1.90;  K=V=128 T4096 1.02 / 0.79;  K=V=128 T16384 0.88 / 0.74
//   WASM:    K=V=64 T4096 0.81 / 0.50;  K=V=128 T1024 0.23 / 0.20;  K=V=128 T4096 0.22 / 0.20;
//            K=V=128 T16384 0.204 / 0.202 (2026-11-29, the recurrence without its decay multiply: see
//            RecurrentBlock; before it the chunked form won in WASM from K V = 128 x 128 on)
// so auto takes the recurrence.
ls_delta_algorithm ChooseAlgorithm(const ls_delta_rule_params& p) {
  if (p.algorithm != LS_DELTA_AUTO) return static_cast<ls_delta_algorithm>(p.algorithm);
  return LS_DELTA_RECURRENT;
}

}  // namespace

ls_status DeltaRule(const ls_delta_rule_params& p) {
  if (ls_status s = ValidateDeltaRule(p)) return s;
  if (ls_status s = CheckFloat32Storage(p.storage)) return s;
  const int64_t lanes = HWY_DYNAMIC_DISPATCH(DeltaLanes)();
  const int64_t heads = p.batch * p.value_heads;
  if (ChooseAlgorithm(p) == LS_DELTA_RECURRENT) {
    const int64_t block = HWY_DYNAMIC_DISPATCH(RecurrentWidth)();
    const int64_t blocks = (p.value_dim + block - 1) / block;
    const int workers = ParallelWorkers(heads * blocks, p.threads);
    ScratchBuffers scratch(workers, RecurrentScratchFloats(lanes, block, p.key_dim));
    if (ls_status s = scratch.Check()) return s;
    auto task = [&](int64_t i, int worker) {
      if (Cancelled(p.cancel)) return;
      const int64_t head = i / blocks;
      HWY_DYNAMIC_DISPATCH(Recurrent)(p, head / p.value_heads, head % p.value_heads, (i % blocks) * block,
                                      scratch.get(worker));
    };
    ParallelFor(heads * blocks, workers, task);
  } else {
    const int workers = ParallelWorkers(heads, p.threads);
    ScratchBuffers scratch(workers, ChunkedScratchFloats(lanes, p.key_dim, p.value_dim, p.chunk_size));
    if (ls_status s = scratch.Check()) return s;
    auto task = [&](int64_t head, int worker) {
      if (Cancelled(p.cancel)) return;
      HWY_DYNAMIC_DISPATCH(ChunkedHead)(p, head / p.value_heads, head % p.value_heads, scratch.get(worker));
    };
    ParallelFor(heads, workers, task);
  }
  return Cancelled(p.cancel) ? CancelledStatus() : LS_OK;
}

}  // namespace ls

extern "C" ls_status ls_delta_rule_cpu(const ls_delta_rule_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::DeltaRule(*p);
}

extern "C" ls_status ls_delta_rule_step_cpu(const ls_delta_rule_step_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::CheckPointer("state", p->state)) return s;
  // Cancellation is checked only before the step, so the state is updated entirely or not at all.
  if (ls::Cancelled(p->cancel)) return ls::CancelledStatus();
  return ls::DeltaRule(ls::DeltaRuleStepAsRule(*p));
}
#endif  // HWY_ONCE
