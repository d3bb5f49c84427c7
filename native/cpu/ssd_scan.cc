// Mamba-2's SSD scan on the CPU: ls_ssd_scan_cpu and ls_ssd_scan_step_cpu.
//
// A is a scalar per head, so each token's decay is one exp for the whole P x N state of a head. Two algorithms:
//  - The recurrence (RecurrentHeads): the state of one head is kept as S[n][p] with the head dimension p in the
//    SIMD lanes, so both the update S[n] = decay S[n] + B[n] (dt x) and the output y += C[n] S[n] are
//    multiply-adds of whole vectors with a broadcast scalar: no horizontal sums. A 64 x 128 state is 32 KiB
//    and stays in L1 for a block of 16 tokens; a task takes up to 8 heads through the sequence together, a
//    block at a time (see kSsdBlock and kSsdHeadsPerTask for why). Within a block the state is held divided by
//    the decay so far, which takes the decay multiply out of the inner loop (RecurrentBlock).
//  - The chunked SSD form (ChunkedHead), per chunk of Q tokens with cumulative log-decays a_t:
//    Y = (C B^T . L) (dt x) + e^a . (C S) with L[t][s] = e^(a_t - a_s) for s <= t, and
//    S <- e^(a_Q) S + B^T (e^(a_Q - a) . dt x): matrix products (matmul-inl.h), decays only as exp of
//    differences within a chunk.
// The rule between them is at ChooseAlgorithm.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/ssd_scan.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "cpu/matmul-inl.h"
#include "cpu/simd_math-inl.h"

#ifndef LONGSEQ_CPU_SSD_SCAN_ONCE
#define LONGSEQ_CPU_SSD_SCAN_ONCE
#include <math.h>
#include <string.h>

#include "cpu/scratch.h"
#include "cpu/status.h"
#include "cpu/thread_pool.h"
#include "cpu/ssd_scan.h"
#include "longseq/longseq.h"

namespace ls {

inline int64_t SsdRoundUp(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

// The step size of token t of head h: dt + bias, softplus (mamba_ssm's threshold of 20), clamped.
inline float SsdStep(const ls_ssd_scan_params& p, float dt, int64_t h) {
  dt += p.dt_bias ? p.dt_bias[h] : 0.0f;
  if (p.dt_softplus && dt <= 20.0f) dt = log1pf(expf(dt));
  if (dt < p.dt_min) dt = p.dt_min;  // NaN stays NaN: both comparisons are false
  if (dt > p.dt_max) dt = p.dt_max;
  return dt;
}

// Tokens the recurrence advances per pass over the state (RecurrentColumns).
constexpr int64_t kSsdTokens = 2;
// Tokens whose inputs the recurrence gathers at once. One head's consecutive rows of x, z and y are heads x
// head_dim floats apart, each on its own page; loaded a token at a time, behind a whole pass over the state, each
// load waited for memory (a third of the time at H32 P64 N128). A block's rows are loaded together. 32 rather than
// 16 (AMD Zen 3, AVX2, B1 L4096 H32 P64 N128, one thread, alternated runs of both builds): 0.92-0.94x as long
// before the prefetches of NextRows, 0.98x with them; 64 rather than 32, with them: 0.977x and 0.979x (B8 L2048
// H24: 0.998x; the relaxed-SIMD WASM module 0.96x, SIMD128 1.0x); 128: 1.03x.
constexpr int64_t kSsdBlock = 64;

// Heads the recurrence advances together, a block of tokens at a time: the rows of one token for those heads
// share pages, so the page walks (expensive in a VM: a third of the time at H32 P64 N128, one head at a time)
// are shared too. Their states, at most kSsdHeadStateBytes together (an L2's size on many x86 cores), stay in L2 or
// close to it between blocks. 16 rather than 8 (AMD Zen 3, AVX2, B1 L4096 H32 P64 N128, one thread, three runs of
// alternated rounds): 0.94-0.98x as long.
constexpr int64_t kSsdHeadsPerTask = 16;
constexpr int64_t kSsdHeadStateBytes = 512 * 1024;

inline int64_t SsdHeadsPerTask(int64_t lanes, const ls_ssd_scan_params& p, int workers) {
  const int64_t state_bytes = 4 * p.dstate * SsdRoundUp(p.head_dim, lanes);
  int64_t heads = p.batch * p.heads / workers;  // enough tasks for every worker
  if (heads > kSsdHeadsPerTask) heads = kSsdHeadsPerTask;
  if (heads > kSsdHeadStateBytes / state_bytes) heads = kSsdHeadStateBytes / state_bytes;
  if (heads > p.heads) heads = p.heads;
  return heads < 1 ? 1 : heads;
}

// S [heads][N][Pp], dt x, y and silu(z) [kSsdBlock][Pp], decays and steps [kSsdBlock].
inline int64_t RecurrentSsdFloats(int64_t lanes, int64_t P, int64_t N, int64_t heads) {
  return (heads * N + 3 * kSsdBlock) * SsdRoundUp(P, lanes) + 2 * kSsdBlock;
}

inline int64_t ChunkedSsdFloats(int64_t lanes, int64_t P, int64_t N, int64_t Q) {
  const int64_t Pp = SsdRoundUp(P, lanes), Np = SsdRoundUp(N, lanes), Qp = SsdRoundUp(Q, lanes);
  // S [N][Pp], Cc [Q][Np], Bt [N][Qp], G [Q][Qp], X, Y and silu(z) [Q][Pp], a/dt [Qp] x 2
  return N * Pp + Q * Np + N * Qp + Q * Qp + 3 * Q * Pp + 2 * Qp;
}

}  // namespace ls
#endif  // LONGSEQ_CPU_SSD_SCAN_ONCE

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// A token's inputs, as the recurrence and the chunks take them: dx <- dt x, y <- D x (the skip term, zero without
// D; the products then add to it) and gates <- silu(z) where z is given, each row P values of its padded stride.
// x is loaded once for both of its uses, and z's row beside it, so that their waits for memory overlap: loading x
// again after the products (by then out of L1) held 4% of the samples at B1 L4096 H32 P64 N128 on the recurrent
// path, and z's row there cost more (a build without the gate was 9% faster).
template <class D>
HWY_INLINE void InputRow(D d, const ls_ssd_scan_params& p, int64_t h, int64_t row, float dt, float* dx, float* y,
                         float* gates) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t P = p.head_dim;
  const float* x = p.x + row * P;
  const float* skip = p.D && p.D_per_dim ? p.D + h * P : nullptr;
  const V step = hn::Set(d, dt), skip_all = hn::Set(d, p.D ? p.D[h] : 0.0f);
  int64_t j = 0;
  for (; j + lanes <= P; j += lanes) {
    const V xj = hn::LoadU(d, x + j);
    hn::Store(hn::Mul(step, xj), d, dx + j);
    hn::Store(hn::Mul(skip ? hn::LoadU(d, skip + j) : skip_all, xj), d, y + j);
  }
  for (; j < P; ++j) {
    dx[j] = dt * x[j];
    y[j] = (skip ? skip[j] : p.D ? p.D[h] : 0.0f) * x[j];
  }
  if (p.z) {
    const float* z = p.z + row * P;
    for (j = 0; j + lanes <= P; j += lanes) hn::Store(Silu(d, hn::LoadU(d, z + j)), d, gates + j);
    for (; j < P; ++j) gates[j] = z[j] / (1.0f + expf(-z[j]));
  }
}

// out <- y (P values) times the gates, where given.
template <class D>
HWY_INLINE void GateRow(D d, int64_t P, const float* gates, const float* y, float* out) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  if (!gates) {
    memcpy(out, y, sizeof(float) * P);
    return;
  }
  int64_t j = 0;
  for (; j + lanes <= P; j += lanes) hn::StoreU(hn::Mul(hn::Load(d, y + j), hn::Load(d, gates + j)), d, out + j);
  for (; j < P; ++j) out[j] = y[j] * gates[j];
}

// SsdStep and the decay e^(dt A[h]) for a block of tokens of head h, in vectors: steps [kSsdBlock] holds the raw
// dt on entry (entries past the block's end are unused) and the step sizes on return. softplus and exp by
// simd_math-inl.h, within ~4e-7 and 2e-7 relative: a scalar log1pf and two expf per token were a third of
// the per-token work outside the state loop. NaN stays NaN.
template <class D>
HWY_INLINE void StepsAndDecays(D d, const ls_ssd_scan_params& p, int64_t h, float* steps, float* decays) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const V bias = hn::Set(d, p.dt_bias ? p.dt_bias[h] : 0.0f), A = hn::Set(d, p.A[h]);
  const V lo = hn::Set(d, p.dt_min), hi = hn::Set(d, p.dt_max);
  for (int64_t k = 0; k < kSsdBlock; k += lanes) {
    V dt = hn::Add(hn::Load(d, steps + k), bias);
    if (p.dt_softplus) dt = Softplus(d, dt);
    dt = hn::IfThenElse(hn::IsNaN(dt), dt, hn::Min(hn::Max(dt, lo), hi));
    hn::Store(dt, d, steps + k);
    hn::Store(FastExp(d, hn::Mul(dt, A)), d, decays + k);
  }
}

// kTokens tokens of the recurrence for kVecs vectors of the head dimension, adding C . S to y. Each state vector is
// loaded and stored once for all kTokens updates, and every token's dt x and y stay in registers across the whole n
// loop: three vector operations per token and state vector (decay, update, output), against the loads and stores
// that bound a one-token pass. kRescaled: the state is held divided by the decay so far in a run (see
// RecurrentBlock), so the decay multiply drops out: two operations instead of three; token k's dt x enters divided
// by c_k (`down`), its output leaves multiplied by c_k (`up`), and the run's last tokens (kScaleOut) store the state
// multiplied back by `scale_out`. kVecs and kTokens are template constants so the arrays below live in registers.
template <int kVecs, int kTokens, bool kRescaled, bool kScaleOut, class D, class V = hn::Vec<D>>
HWY_INLINE void RecurrentColumns(D d, int64_t N, int64_t Pp, const V* decay, const V* down, const V* up, V scale_out,
                                 const float* dx, const float* const* Bt, const float* const* Ct, float* S, float* y) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  V acc[kTokens][kVecs], u[kTokens][kVecs];
  for (int k = 0; k < kTokens; ++k) {
    for (int v = 0; v < kVecs; ++v) {
      acc[k][v] = kRescaled ? hn::Zero(d) : hn::Load(d, y + k * Pp + v * lanes);
      u[k][v] = hn::Load(d, dx + k * Pp + v * lanes);
      if (kRescaled) u[k][v] = hn::Mul(down[k], u[k][v]);
    }
  }
  for (int64_t n = 0; n < N; ++n) {
    float* s = S + n * Pp;
    V state[kVecs];
    for (int v = 0; v < kVecs; ++v) state[v] = hn::Load(d, s + v * lanes);
    for (int k = 0; k < kTokens; ++k) {
      const V bn = hn::Set(d, Bt[k][n]), cn = hn::Set(d, Ct[k][n]);
      for (int v = 0; v < kVecs; ++v) {
        state[v] = Madd(bn, u[k][v], kRescaled ? state[v] : hn::Mul(decay[k], state[v]));
        acc[k][v] = Madd(cn, state[v], acc[k][v]);
      }
    }
    for (int v = 0; v < kVecs; ++v) hn::Store(kScaleOut ? hn::Mul(scale_out, state[v]) : state[v], d, s + v * lanes);
  }
  for (int k = 0; k < kTokens; ++k) {
    for (int v = 0; v < kVecs; ++v) {
      float* out = y + k * Pp + v * lanes;
      hn::Store(kRescaled ? Madd(up[k], acc[k][v], hn::Load(d, out)) : acc[k][v], d, out);
    }
  }
}

// Vectors of the head dimension per RecurrentColumns call: (kVecs + 1) x kSsdTokens accumulators and inputs
// plus the state fit the 32 registers of AVX-512 at 4, the 16 of AVX2 / SSE4 / WASM at 2.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr int kSsdVecs = 4;
#else
constexpr int kSsdVecs = 2;
#endif

// The rows of x, z (null without z) and y of the head that comes next, token k of its block at k * stride, to
// prefetch while this head's block runs: each of those rows lies on a page of its own, which the hardware
// prefetchers do not cross, and without this the loads of x and z and the stores of y waited for memory (perf: a
// sixth of the samples at B1 L4096 H32 P64 N128 on AMD Zen 3, then 6%; the op 0.91x as long, 61 alternated rounds).
struct NextRows {
  const float *x, *z;
  float* y;
  int64_t stride, count, P;
};

// Asks for the next head's rows of tokens [k, k + tokens) to be brought into the caches (y's for writing), a few at
// each pass over the state: issued all at once at a block's start, they took 3% of the samples themselves and gained
// 2%. HWY_INLINE: GCC takes an out-of-line function that only prefetches for one without effects and drops its calls.
HWY_INLINE void PrefetchRows(const NextRows& next, int64_t k, int64_t tokens) {
  constexpr int64_t kLine = 64 / sizeof(float);
  for (int64_t i = k; i < k + tokens && i < next.count; ++i) {
    for (int64_t j = 0; j < next.P; j += kLine) {
      hwy::Prefetch(next.x + i * next.stride + j);
      if (next.z) hwy::Prefetch(next.z + i * next.stride + j);
      __builtin_prefetch(next.y + i * next.stride + j, 1);
    }
  }
}

// Rows [k, k + kTokens) of the block's dx, y and decays of the recurrence of one head on its state S [N][Pp];
// B and C rows of those tokens start at B + k * row and C + k * row. kRescaled: c holds the run's decay products.
template <int kTokens, bool kRescaled, bool kScaleOut = false, class D>
HWY_INLINE void RecurrentTokens(D d, int64_t N, int64_t P, const float* B, const float* C, int64_t row, int64_t k,
                                float* S, const float* dx, float* y, const float* decays, const float* c,
                                const NextRows& next, float scale_out = 1.0f) {
  PrefetchRows(next, k, kTokens);
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t Pp = SsdRoundUp(P, lanes);
  V decay[kTokens], down[kTokens], up[kTokens];
  const float* Bt[kTokens];
  const float* Ct[kTokens];
  for (int i = 0; i < kTokens; ++i) {
    decay[i] = hn::Set(d, decays[k + i]);
    if (kRescaled) {
      down[i] = hn::Set(d, 1.0f / c[k + i]);
      up[i] = hn::Set(d, c[k + i]);
    }
    Bt[i] = B + (k + i) * row;
    Ct[i] = C + (k + i) * row;
  }
  dx += k * Pp;
  y += k * Pp;
  int64_t j0 = 0;
  const V scale = hn::Set(d, scale_out);
  for (; j0 + kSsdVecs * lanes <= Pp; j0 += kSsdVecs * lanes) {
    RecurrentColumns<kSsdVecs, kTokens, kRescaled, kScaleOut>(d, N, Pp, decay, down, up, scale, dx + j0, Bt, Ct, S + j0,
                                                              y + j0);
  }
  for (; j0 < Pp; j0 += lanes) {
    RecurrentColumns<1, kTokens, kRescaled, kScaleOut>(d, N, Pp, decay, down, up, scale, dx + j0, Bt, Ct, S + j0, y + j0);
  }
}

// Rows [k0, k1) of a block (rows of dx, y and decays) for one head, by the plain update.
template <class D>
HWY_INLINE void PlainRows(D d, int64_t N, int64_t P, const float* B, const float* C, int64_t row, int64_t k0,
                          int64_t k1, float* S, const float* dx, float* y, const float* decays, const NextRows& next) {
  int64_t k = k0;
  for (; k + kSsdTokens <= k1; k += kSsdTokens) {
    RecurrentTokens<kSsdTokens, false>(d, N, P, B, C, row, k, S, dx, y, decays, nullptr, next);
  }
  for (; k < k1; ++k) RecurrentTokens<1, false>(d, N, P, B, C, row, k, S, dx, y, decays, nullptr, next);
}

// A rescaled run over rows [k0, k1), k1 - k0 >= 2, with the run's decay products c, whose last tokens store the
// state times c[k1 - 1].
template <class D>
HWY_INLINE void RescaledRows(D d, int64_t N, int64_t P, const float* B, const float* C, int64_t row, int64_t k0,
                             int64_t k1, const float* c, float* S, const float* dx, float* y, const float* decays,
                             const NextRows& next) {
  static_assert(kSsdTokens == 2, "the run's end below is written for pairs");
  const float last = c[k1 - 1];
  int64_t k = k0;
  for (; k + 2 * kSsdTokens <= k1; k += kSsdTokens) {
    RecurrentTokens<kSsdTokens, true>(d, N, P, B, C, row, k, S, dx, y, decays, c, next);
  }
  if (k1 - k == kSsdTokens + 1) {
    RecurrentTokens<kSsdTokens, true>(d, N, P, B, C, row, k, S, dx, y, decays, c, next);
    RecurrentTokens<1, true, true>(d, N, P, B, C, row, k + kSsdTokens, S, dx, y, decays, c, next, last);
  } else {
    RecurrentTokens<kSsdTokens, true, true>(d, N, P, B, C, row, k, S, dx, y, decays, c, next, last);
  }
}

// The recurrence through a block of `count` tokens of one head (B and C rows `row` apart), in runs where the
// state is held divided by the decay so far: with c_k the product of the run's decays up to token k,
// S_k = c_k S'_k, S'_k = S'_{k-1} + B_k ((dt x)_k / c_k) and y_k = c_k (C_k . S'_k), so each token and state
// element costs an update and an output (two multiply-adds) instead of also a decay multiply; S is multiplied
// by c as the run's last tokens store it. The 1 / c_k and c_k scale the P values of dt x and of the output, not
// the N of B and C, which stay the input's rows: shared by the heads of a group, they stay in the caches. A run
// ends before c would leave [2^-40, 2^40], where 1 / c_k would lose range (strong decay, a growing or NaN step);
// a token that cannot start a run of two takes the plain update.
// Measured (B1 L4096 H32 P64 N128, one thread): WASM 137-141 -> 118-121 ms, AVX-512 41.7 -> 37.4-38.6 ms.
template <class D>
HWY_INLINE void RecurrentBlock(D d, int64_t N, int64_t P, const float* B, const float* C, int64_t row, int64_t count,
                               float* S, const float* dx, float* y, const float* decays, const NextRows& next) {
  constexpr float kRange = 1099511627776.0f;  // 2^40
  float c[kSsdBlock];
  for (int64_t k0 = 0, k1; k0 < count; k0 = k1) {
    float product = 1.0f;
    for (k1 = k0; k1 < count; ++k1) {
      const float extended = product * decays[k1];
      if (!(extended >= 1.0f / kRange && extended <= kRange)) break;
      product = c[k1] = extended;
    }
    if (k1 - k0 < 2) {
      k1 = k0 + 1;
      PlainRows(d, N, P, B, C, row, k0, k1, S, dx, y, decays, next);
    } else {
      RescaledRows(d, N, P, B, C, row, k0, k1, c, S, dx, y, decays, next);
    }
  }
}

// The recurrence for batch b, heads [h0, h0 + heads), a block of tokens at a time.
void RecurrentHeads(const ls_ssd_scan_params& p, int64_t b, int64_t h0, int64_t heads, float* scratch) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t L = p.seqlen, H = p.heads, P = p.head_dim, N = p.dstate, G = p.groups;
  const int64_t Pp = SsdRoundUp(P, lanes);
  float* states = scratch;                   // [heads][N][Pp]
  float* dx = states + heads * N * Pp;       // [kSsdBlock][Pp] dt x, padding zero
  float* y = dx + kSsdBlock * Pp;            // [kSsdBlock][Pp]
  float* decays = y + kSsdBlock * Pp;        // [kSsdBlock]
  float* steps = decays + kSsdBlock;         // [kSsdBlock]
  float* gates = steps + kSsdBlock;          // [kSsdBlock][Pp] silu(z)
  memset(scratch, 0, sizeof(float) * RecurrentSsdFloats(lanes, P, N, heads));
  if (p.initial_state) {
    for (int64_t i = 0; i < heads; ++i) {
      const float* init = p.initial_state + (b * H + h0 + i) * P * N;  // [P][N]
      float* S = states + i * N * Pp;
      for (int64_t j = 0; j < P; ++j) {
        for (int64_t n = 0; n < N; ++n) S[n * Pp + j] = init[j * N + n];
      }
    }
  }
  for (int64_t t0 = 0; t0 < L; t0 += kSsdBlock) {
    if (t0 % 1024 == 0 && Cancelled(p.cancel)) return;  // a long sequence can take a while
    const int64_t count = L - t0 < kSsdBlock ? L - t0 : kSsdBlock;
    for (int64_t h = h0; h < h0 + heads; ++h) {
      float* S = states + (h - h0) * N * Pp;
      const int64_t g = h / (H / G);
      for (int64_t k = 0; k < count; ++k) steps[k] = p.dt[(b * L + t0 + k) * H + h];
      StepsAndDecays(d, p, h, steps, decays);
      for (int64_t k = 0; k < count; ++k) {
        const int64_t row = (b * L + t0 + k) * H + h;  // token t0 + k of head h
        InputRow(d, p, h, row, steps[k], dx + k * Pp, y + k * Pp, gates + k * Pp);
      }
      const float* B = p.B + ((b * L + t0) * G + g) * N;
      const float* C = p.C + ((b * L + t0) * G + g) * N;
      // The next head of the task in this block, or the first one in the next block.
      const int64_t next_t0 = h + 1 < h0 + heads ? t0 : t0 + kSsdBlock;
      const int64_t next_count = next_t0 >= L ? 0 : L - next_t0 < kSsdBlock ? L - next_t0 : kSsdBlock;
      const int64_t next_row = next_count == 0 ? 0 : (b * L + next_t0) * H + (h + 1 < h0 + heads ? h + 1 : h0);
      const NextRows next = {p.x + next_row * P, p.z ? p.z + next_row * P : nullptr, p.y + next_row * P, H * P,
                             next_count, P};
      RecurrentBlock(d, N, P, B, C, G * N, count, S, dx, y, decays, next);
      for (int64_t k = 0; k < count; ++k) {
        const int64_t row = (b * L + t0 + k) * H + h;
        GateRow(d, P, p.z ? gates + k * Pp : nullptr, y + k * Pp, p.y + row * P);
      }
    }
  }
  if (p.final_state) {
    for (int64_t i = 0; i < heads; ++i) {
      float* out = p.final_state + (b * H + h0 + i) * P * N;
      const float* S = states + i * N * Pp;
      for (int64_t j = 0; j < P; ++j) {
        for (int64_t n = 0; n < N; ++n) out[j * N + n] = S[n * Pp + j];
      }
    }
  }
}

// The chunked SSD form for batch b, head h.
void ChunkedHead(const ls_ssd_scan_params& p, int64_t b, int64_t h, float* scratch) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t L = p.seqlen, H = p.heads, P = p.head_dim, N = p.dstate, G = p.groups, Q = p.chunk_size;
  const int64_t g = h / (H / G);
  const int64_t Pp = SsdRoundUp(P, lanes), Np = SsdRoundUp(N, lanes), Qp = SsdRoundUp(Q, lanes);
  float* S = scratch;        // [N][Pp] state, transposed
  float* Cc = S + N * Pp;     // [Q][Np] C of the chunk, rows scaled by e^a_t for the carried-in part
  float* Bt = Cc + Q * Np;    // [N][Qp] B of the chunk, transposed
  float* Gm = Bt + N * Qp;    // [Q][Qp] C B^T . L
  float* X = Gm + Q * Qp;     // [Q][Pp] dt x
  float* Y = X + Q * Pp;      // [Q][Pp], starting as D x
  float* gates = Y + Q * Pp;  // [Q][Pp] silu(z)
  float* a = gates + Q * Pp;  // [Qp] cumulative log-decay
  float* dts = a + Qp;        // [Qp] step sizes
  memset(scratch, 0, sizeof(float) * ChunkedSsdFloats(lanes, P, N, Q));
  if (p.initial_state) {
    const float* init = p.initial_state + (b * H + h) * P * N;
    for (int64_t j = 0; j < P; ++j) {
      for (int64_t n = 0; n < N; ++n) S[n * Pp + j] = init[j * N + n];
    }
  }
  const float A = p.A[h];
  for (int64_t t0 = 0; t0 < L; t0 += Q) {
    if (Cancelled(p.cancel)) return;
    const int64_t Qc = L - t0 < Q ? L - t0 : Q;
    float cumulative = 0.0f;
    for (int64_t t = 0; t < Qc; ++t) {
      const int64_t row = (b * L + t0 + t) * H + h;
      dts[t] = SsdStep(p, p.dt[row], h);
      cumulative += dts[t] * A;
      a[t] = cumulative;
      InputRow(d, p, h, row, dts[t], X + t * Pp, Y + t * Pp, gates + t * Pp);
      const float* Bs = p.B + ((b * L + t0 + t) * G + g) * N;
      const float* Cs = p.C + ((b * L + t0 + t) * G + g) * N;
      for (int64_t n = 0; n < N; ++n) {
        Bt[n * Qp + t] = Bs[n];
        Cc[t * Np + n] = Cs[n];
      }
    }
    for (int64_t t = Qc; t < Qp; ++t) a[t] = cumulative;  // padding: finite, masked out
    if (Qc < Q) {  // a short last chunk: columns past Qc of B^T must not carry the previous chunk's values
      for (int64_t n = 0; n < N; ++n) memset(Bt + n * Qp + Qc, 0, sizeof(float) * (Qp - Qc));
    }
    // Within the chunk: G = (C B^T) . L, Y += G (dt x).
    MatMul(d, Qc, Qp, N, Cc, Np, 1, 1.0f, Bt, Qp, Gm, Qp, false);
    for (int64_t t = 0; t < Qc; ++t) {
      float* row = Gm + t * Qp;
      const V at = hn::Set(d, a[t]);
      for (int64_t s = 0; s < Qp; s += lanes) {
        const V index = hn::Add(hn::Set(d, static_cast<float>(s)), hn::Iota(d, 0.0f));
        const auto causal = hn::Le(index, hn::Set(d, static_cast<float>(t)));
        const V decay = FastExp(d, hn::Sub(at, hn::Load(d, a + s)));
        hn::Store(hn::IfThenElseZero(causal, hn::Mul(decay, hn::Load(d, row + s))), d, row + s);
      }
    }
    MatMul(d, Qc, Pp, Qc, Gm, Qp, 1, 1.0f, X, Pp, Y, Pp, true);
    // From the carried-in state: Y += e^a . (C S).
    for (int64_t t = 0; t < Qc; ++t) {
      const V scale = hn::Set(d, expf(a[t]));
      for (int64_t n = 0; n < Np; n += lanes) hn::Store(hn::Mul(scale, hn::Load(d, Cc + t * Np + n)), d, Cc + t * Np + n);
    }
    MatMul(d, Qc, Pp, N, Cc, Np, 1, 1.0f, S, Pp, Y, Pp, true);
    for (int64_t t = 0; t < Qc; ++t) {
      const int64_t row = (b * L + t0 + t) * H + h;
      GateRow(d, P, p.z ? gates + t * Pp : nullptr, Y + t * Pp, p.y + row * P);
    }
    // S <- e^(a_last) S + B^T (e^(a_last - a) . dt x)
    const float last = a[Qc - 1];
    const V carry = hn::Set(d, expf(last));
    for (int64_t i = 0; i < N * Pp; i += lanes) hn::Store(hn::Mul(carry, hn::Load(d, S + i)), d, S + i);
    for (int64_t t = 0; t < Qc; ++t) {
      const V w = hn::Set(d, expf(last - a[t]));
      for (int64_t j = 0; j < Pp; j += lanes) hn::Store(hn::Mul(w, hn::Load(d, X + t * Pp + j)), d, X + t * Pp + j);
    }
    MatMul(d, N, Pp, Qc, Bt, Qp, 1, 1.0f, X, Pp, S, Pp, true);
  }
  if (p.final_state) {
    float* out = p.final_state + (b * H + h) * P * N;
    for (int64_t j = 0; j < P; ++j) {
      for (int64_t n = 0; n < N; ++n) out[j * N + n] = S[n * Pp + j];
    }
  }
}

int64_t SsdLanes() { return static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>())); }

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ls {
HWY_EXPORT(RecurrentHeads);
HWY_EXPORT(ChunkedHead);
HWY_EXPORT(SsdLanes);

ls_ssd_scan_params SsdScanStepAsScan(const ls_ssd_scan_step_params& p) {
  ls_ssd_scan_params scan = {};
  scan.threads = p.threads;
  scan.batch = p.batch;
  scan.seqlen = 1;
  scan.heads = p.heads;
  scan.head_dim = p.head_dim;
  scan.groups = p.groups;
  scan.dstate = p.dstate;
  scan.x = p.x;
  scan.dt = p.dt;
  scan.A = p.A;
  scan.B = p.B;
  scan.C = p.C;
  scan.D = p.D;
  scan.D_per_dim = p.D_per_dim;
  scan.z = p.z;
  scan.dt_bias = p.dt_bias;
  scan.dt_softplus = p.dt_softplus;
  scan.dt_min = p.dt_min;
  scan.dt_max = p.dt_max;
  scan.chunk_size = 1;
  scan.algorithm = LS_SSD_RECURRENT;
  scan.initial_state = p.state;
  scan.y = p.y;
  scan.final_state = p.state;
  scan.storage = p.storage;
  return scan;
}

ls_status ValidateSsdScan(const ls_ssd_scan_params& p) {
  ls_status s;
  if ((s = CheckPositive("batch", p.batch)) || (s = CheckPositive("seqlen", p.seqlen)) ||
      (s = CheckPositive("heads", p.heads)) || (s = CheckPositive("head_dim", p.head_dim)) ||
      (s = CheckPositive("groups", p.groups)) || (s = CheckPositive("dstate", p.dstate)) ||
      (s = CheckPointer("x", p.x)) || (s = CheckPointer("dt", p.dt)) || (s = CheckPointer("A", p.A)) ||
      (s = CheckPointer("B", p.B)) || (s = CheckPointer("C", p.C)) || (s = CheckPointer("y", p.y))) {
    return s;
  }
  if (p.heads % p.groups != 0) {
    return Fail(LS_INVALID_ARGUMENT, "heads (%lld) must be a multiple of groups (%lld)", static_cast<long long>(p.heads),
                static_cast<long long>(p.groups));
  }
  if (p.chunk_size < 1 || p.chunk_size > 1024) {
    return Fail(LS_INVALID_ARGUMENT, "chunk_size must be in [1, 1024], got %d", p.chunk_size);
  }
  if (p.algorithm < LS_SSD_AUTO || p.algorithm > LS_SSD_RECURRENT) {
    return Fail(LS_INVALID_ARGUMENT, "algorithm must be 0 (auto), 1 (chunked) or 2 (recurrent), got %d", p.algorithm);
  }
  if (p.head_dim > 4096 || p.dstate > 4096) {
    return Fail(LS_INVALID_ARGUMENT, "head_dim and dstate must be <= 4096, got %lld and %lld",
                static_cast<long long>(p.head_dim), static_cast<long long>(p.dstate));
  }
  if (!(p.dt_min <= p.dt_max)) {
    return Fail(LS_INVALID_ARGUMENT, "dt_min (%g) must be <= dt_max (%g)", p.dt_min, p.dt_max);
  }
  return CheckStorage(p.storage);
}

namespace {

// The recurrence does 2 P N multiply-adds per token and head; the chunked form adds the within-chunk products
// (Q N + Q P per token for C B^T and its product with dt x) to the same 2 P N: more arithmetic, in matrix products.
// Measured (AVX-512, one thread, Q = 256): B1 L4096 H32 P64 N128 recurrent 43 ms, chunked 180 ms; B8 L2048 H24
// 124 ms / 514 ms. The recurrence runs near the FMA peak with its state in L1, so auto takes it.
ls_ssd_algorithm ChooseAlgorithm(const ls_ssd_scan_params& p) {
  return p.algorithm == LS_SSD_AUTO ? LS_SSD_RECURRENT : static_cast<ls_ssd_algorithm>(p.algorithm);
}

}  // namespace

ls_status SsdScan(const ls_ssd_scan_params& p) {
  if (ls_status s = ValidateSsdScan(p)) return s;
  if (ls_status s = CheckFloat32Storage(p.storage)) return s;
  const int64_t lanes = HWY_DYNAMIC_DISPATCH(SsdLanes)();
  if (ChooseAlgorithm(p) == LS_SSD_CHUNKED) {
    const int64_t tasks = p.batch * p.heads;
    const int workers = ParallelWorkers(tasks, p.threads);
    ScratchBuffers scratch(workers, ChunkedSsdFloats(lanes, p.head_dim, p.dstate, p.chunk_size));
    if (ls_status s = scratch.Check()) return s;
    auto task = [&](int64_t i, int worker) {
      if (!Cancelled(p.cancel)) HWY_DYNAMIC_DISPATCH(ChunkedHead)(p, i / p.heads, i % p.heads, scratch.get(worker));
    };
    ParallelFor(tasks, workers, task);
    return Cancelled(p.cancel) ? CancelledStatus() : LS_OK;
  }
  const int64_t heads = SsdHeadsPerTask(lanes, p, ParallelWorkers(p.batch * p.heads, p.threads));
  const int64_t ranges = (p.heads + heads - 1) / heads;  // per batch
  const int64_t tasks = p.batch * ranges;
  const int workers = ParallelWorkers(tasks, p.threads);
  ScratchBuffers scratch(workers, RecurrentSsdFloats(lanes, p.head_dim, p.dstate, heads));
  if (ls_status s = scratch.Check()) return s;
  auto task = [&](int64_t i, int worker) {
    if (Cancelled(p.cancel)) return;
    const int64_t h0 = i % ranges * heads;
    const int64_t count = p.heads - h0 < heads ? p.heads - h0 : heads;
    HWY_DYNAMIC_DISPATCH(RecurrentHeads)(p, i / ranges, h0, count, scratch.get(worker));
  };
  ParallelFor(tasks, workers, task);
  return Cancelled(p.cancel) ? CancelledStatus() : LS_OK;
}

}  // namespace ls

extern "C" ls_status ls_ssd_scan_cpu(const ls_ssd_scan_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::SsdScan(*p);
}

extern "C" ls_status ls_ssd_scan_step_cpu(const ls_ssd_scan_step_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::CheckPointer("state", p->state)) return s;
  // Checked only before the step, so the state is updated entirely or not at all.
  if (ls::Cancelled(p->cancel)) return ls::CancelledStatus();
  return ls::SsdScan(ls::SsdScanStepAsScan(*p));
}
#endif  // HWY_ONCE
