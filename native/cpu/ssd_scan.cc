// Mamba-2's SSD scan on the CPU: ls_ssd_scan_cpu and ls_ssd_scan_step_cpu.
//
// A is a scalar per head, so each token's decay is one exp for the whole P x N state of a head. Two algorithms:
//  - The recurrence (RecurrentHead): the state of one head is kept as S[n][p] with the head dimension p in the
//    SIMD lanes, so both the update S[n] = decay S[n] + B[n] (dt x) and the output y += C[n] S[n] are
//    multiply-adds of whole vectors with a broadcast scalar: no horizontal sums. A 64 x 128 state is 32 KiB
//    and stays in L1 for the whole sequence.
//  - The chunked SSD form (ChunkedHead), per chunk of Q tokens with cumulative log-decays a_t:
//    Y = (C B^T . L) (dt x) + e^a . (C S) with L[t][s] = e^(a_t - a_s) for s <= t, and
//    S <- e^(a_Q) S + B^T (e^(a_Q - a) . dt x): matrix products (matmul-inl.h), decays only as exp of
//    differences within a chunk.
// The rule between them is at ChooseAlgorithm.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/ssd_scan.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
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

inline int64_t RecurrentSsdFloats(int64_t lanes, int64_t P, int64_t N) { return N * SsdRoundUp(P, lanes) + 2 * SsdRoundUp(P, lanes); }

inline int64_t ChunkedSsdFloats(int64_t lanes, int64_t P, int64_t N, int64_t Q) {
  const int64_t Pp = SsdRoundUp(P, lanes), Np = SsdRoundUp(N, lanes), Qp = SsdRoundUp(Q, lanes);
  // S [N][Pp], Cc [Q][Np], Bt [N][Qp], G [Q][Qp], X [Q][Pp], Y [Q][Pp], a/dt [Qp] x 2
  return N * Pp + Q * Np + N * Qp + Q * Qp + 2 * Q * Pp + 2 * Qp;
}

}  // namespace ls
#endif  // LONGSEQ_CPU_SSD_SCAN_ONCE

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// y row (P values, padded) <- (y + D x) * silu(z) and out to p.y; xrow and zrow are this token's x and z.
template <class D>
HWY_INLINE void FinishRow(D d, const ls_ssd_scan_params& p, int64_t h, const float* xrow, const float* zrow,
                          float* y, float* out) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t P = p.head_dim;
  for (int64_t j = 0; j < P; ++j) {
    const float skip = p.D ? (p.D_per_dim ? p.D[h * P + j] : p.D[h]) : 0.0f;
    y[j] += skip * xrow[j];
  }
  if (zrow) {
    int64_t j = 0;
    for (; j + lanes <= P; j += lanes) {
      hn::Store(hn::Mul(hn::Load(d, y + j), Silu(d, hn::LoadU(d, zrow + j))), d, y + j);
    }
    for (; j < P; ++j) y[j] *= zrow[j] / (1.0f + expf(-zrow[j]));
  }
  memcpy(out, y, sizeof(float) * P);
}

// The recurrence for batch b, head h.
void RecurrentHead(const ls_ssd_scan_params& p, int64_t b, int64_t h, float* scratch) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t L = p.seqlen, H = p.heads, P = p.head_dim, N = p.dstate, G = p.groups;
  const int64_t g = h / (H / G);
  const int64_t Pp = SsdRoundUp(P, lanes);
  float* S = scratch;     // [N][Pp]
  float* dx = S + N * Pp;  // [Pp] dt * x, padding zero
  float* y = dx + Pp;     // [Pp]
  memset(scratch, 0, sizeof(float) * RecurrentSsdFloats(lanes, P, N));
  if (p.initial_state) {
    const float* init = p.initial_state + (b * H + h) * P * N;  // [P][N]
    for (int64_t j = 0; j < P; ++j) {
      for (int64_t n = 0; n < N; ++n) S[n * Pp + j] = init[j * N + n];
    }
  }
  const float A = p.A[h];
  for (int64_t t = 0; t < L; ++t) {
    if (t % 1024 == 0 && Cancelled(p.cancel)) return;  // one head of a long sequence can take a while
    const int64_t row = (b * L + t) * H + h;  // token t of head h
    const float dt = SsdStep(p, p.dt[row], h);
    const V decay = hn::Set(d, expf(dt * A));
    const float* x = p.x + row * P;
    for (int64_t j = 0; j < P; ++j) dx[j] = dt * x[j];
    const float* Bt = p.B + ((b * L + t) * G + g) * N;
    const float* Ct = p.C + ((b * L + t) * G + g) * N;
    for (int64_t j0 = 0; j0 < Pp; j0 += 4 * lanes) {
      // Up to four vectors of the head dimension at once, their y in registers across the whole n loop.
      const int64_t vecs = (Pp - j0) / lanes < 4 ? (Pp - j0) / lanes : 4;
      V acc[4] = {hn::Zero(d), hn::Zero(d), hn::Zero(d), hn::Zero(d)};
      V u[4];
      for (int64_t v = 0; v < vecs; ++v) u[v] = hn::Load(d, dx + j0 + v * lanes);
      for (int64_t n = 0; n < N; ++n) {
        const V bn = hn::Set(d, Bt[n]), cn = hn::Set(d, Ct[n]);
        float* s = S + n * Pp + j0;
        for (int64_t v = 0; v < vecs; ++v) {
          const V updated = hn::MulAdd(bn, u[v], hn::Mul(decay, hn::Load(d, s + v * lanes)));
          hn::Store(updated, d, s + v * lanes);
          acc[v] = hn::MulAdd(cn, updated, acc[v]);
        }
      }
      for (int64_t v = 0; v < vecs; ++v) hn::Store(acc[v], d, y + j0 + v * lanes);
    }
    FinishRow(d, p, h, x, p.z ? p.z + row * P : nullptr, y, p.y + row * P);
  }
  if (p.final_state) {
    float* out = p.final_state + (b * H + h) * P * N;
    for (int64_t j = 0; j < P; ++j) {
      for (int64_t n = 0; n < N; ++n) out[j * N + n] = S[n * Pp + j];
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
  float* Y = X + Q * Pp;      // [Q][Pp]
  float* a = Y + Q * Pp;      // [Qp] cumulative log-decay
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
      const float* x = p.x + row * P;
      for (int64_t j = 0; j < P; ++j) X[t * Pp + j] = dts[t] * x[j];
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
    // Within the chunk: G = (C B^T) . L, Y = G (dt x).
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
    MatMul(d, Qc, Pp, Qc, Gm, Qp, 1, 1.0f, X, Pp, Y, Pp, false);
    // From the carried-in state: Y += e^a . (C S).
    for (int64_t t = 0; t < Qc; ++t) {
      const V scale = hn::Set(d, expf(a[t]));
      for (int64_t n = 0; n < Np; n += lanes) hn::Store(hn::Mul(scale, hn::Load(d, Cc + t * Np + n)), d, Cc + t * Np + n);
    }
    MatMul(d, Qc, Pp, N, Cc, Np, 1, 1.0f, S, Pp, Y, Pp, true);
    for (int64_t t = 0; t < Qc; ++t) {
      const int64_t row = (b * L + t0 + t) * H + h;
      FinishRow(d, p, h, p.x + row * P, p.z ? p.z + row * P : nullptr, Y + t * Pp, p.y + row * P);
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
HWY_EXPORT(RecurrentHead);
HWY_EXPORT(ChunkedHead);
HWY_EXPORT(SsdLanes);

namespace {

ls_status Validate(const ls_ssd_scan_params& p) {
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
  return LS_OK;
}

// The recurrence does 2 P N multiply-adds per token and head; the chunked form adds the within-chunk products
// (Q N + Q P per token for C B^T and its product with dt x) to the same 2 P N: more arithmetic, in matrix products.
// Measured (AVX-512, one thread, B1 L4096 H32 P64 N128, ms, recurrent / chunked at Q = 256): see BENCHMARKS.md
// ("SSD scan"); the recurrence wins, so auto takes it.
ls_ssd_algorithm ChooseAlgorithm(const ls_ssd_scan_params& p) {
  return p.algorithm == LS_SSD_AUTO ? LS_SSD_RECURRENT : static_cast<ls_ssd_algorithm>(p.algorithm);
}

}  // namespace

ls_status SsdScan(const ls_ssd_scan_params& p) {
  if (ls_status s = Validate(p)) return s;
  const int64_t lanes = HWY_DYNAMIC_DISPATCH(SsdLanes)();
  const int64_t tasks = p.batch * p.heads;
  const bool chunked = ChooseAlgorithm(p) == LS_SSD_CHUNKED;
  const int workers = ParallelWorkers(tasks, p.threads);
  ScratchBuffers scratch(workers, chunked ? ChunkedSsdFloats(lanes, p.head_dim, p.dstate, p.chunk_size)
                                          : RecurrentSsdFloats(lanes, p.head_dim, p.dstate));
  if (!scratch.ok()) return Fail(LS_OUT_OF_MEMORY, "ssdScan: out of memory for scratch buffers");
  auto task = [&](int64_t i, int worker) {
    if (Cancelled(p.cancel)) return;
    if (chunked) {
      HWY_DYNAMIC_DISPATCH(ChunkedHead)(p, i / p.heads, i % p.heads, scratch.get(worker));
    } else {
      HWY_DYNAMIC_DISPATCH(RecurrentHead)(p, i / p.heads, i % p.heads, scratch.get(worker));
    }
  };
  ParallelFor(tasks, workers, task);
  return Cancelled(p.cancel) ? CancelledStatus("ssdScan") : LS_OK;
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
  if (ls::Cancelled(p->cancel)) return ls::CancelledStatus("ssdScanStep");
  // A step is the recurrence over one token ([B, H, P] is [B, 1, H, P]), from the state and back into it.
  ls_ssd_scan_params scan = {};
  scan.threads = p->threads;
  scan.batch = p->batch;
  scan.seqlen = 1;
  scan.heads = p->heads;
  scan.head_dim = p->head_dim;
  scan.groups = p->groups;
  scan.dstate = p->dstate;
  scan.x = p->x;
  scan.dt = p->dt;
  scan.A = p->A;
  scan.B = p->B;
  scan.C = p->C;
  scan.D = p->D;
  scan.D_per_dim = p->D_per_dim;
  scan.z = p->z;
  scan.dt_bias = p->dt_bias;
  scan.dt_softplus = p->dt_softplus;
  scan.dt_min = p->dt_min;
  scan.dt_max = p->dt_max;
  scan.chunk_size = 1;
  scan.algorithm = LS_SSD_RECURRENT;
  scan.initial_state = p->state;
  scan.y = p->y;
  scan.final_state = p->state;
  return ls::SsdScan(scan);
}
#endif  // HWY_ONCE
