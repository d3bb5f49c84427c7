// Mamba-1 selective scan on the CPU (ls_selective_scan_cpu, ls_selective_scan_step_cpu).
//
// The cost is exp(dt * A[d,n]) for every (d, t, n): dstate exps per output element. Independent channels d go
// in the SIMD lanes, so one vector Exp serves `lanes` channels at once and no horizontal sum over n is ever
// needed. Each task owns one batch row and one block of `lanes` channels of a single group (so B_t and C_t
// are scalars broadcast to every lane) and walks the sequence in chunks of kChunk steps:
//   1. transpose the chunk of delta, u (and z) of its channels into [t][lane] scratch (the inputs are
//      [batch, dim, seqlen], so channels are a stride apart), and turn delta into dt and dt*u;
//   2. for each state n, carry h[n] in a register through the chunk: the only loop-carried dependency is
//      one FMA per step, while the exps of different steps overlap; y accumulates in scratch;
//   3. apply the z gate and transpose y back.
// The per-task work is the same whatever the thread count, so every thread count gives identical results.
//
// The one-token step (StepBlock) has no sequence to amortise a transpose over, and is bound by reading and
// writing the [B, D, N] state once; there the N states of a channel are contiguous, so they go in the lanes
// and each channel ends with one horizontal sum for y.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/selective_scan.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "cpu/simd_math-inl.h"
#include "cpu/transpose-inl.h"

#ifndef LONGSEQ_CPU_SELECTIVE_SCAN_ONCE
#define LONGSEQ_CPU_SELECTIVE_SCAN_ONCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>

#include "cpu/scratch.h"
#include "cpu/selective_scan.h"
#include "cpu/status.h"
#include "cpu/thread_pool.h"
#include "longseq/longseq.h"

namespace ls {
// Steps per chunk. Each pass of kStates states reads their rows of B and C ([B, N, L]: contiguous in time, shared by
// the group's channels) for the whole chunk, and each chunk starts with the channels' rows of delta, u and z. Long
// chunks make those long sequential runs, which the hardware prefetchers follow, at the price of a scratch in L2 (4
// buffers of kChunk * lanes floats: 128 KiB with 8 lanes). Measured on AMD Zen 3 (AVX2, one thread, alternated
// rounds), against 64 steps (a scratch in L1): 128 steps 0.96-0.99x, 256 0.95x, 512 0.91-0.92x, 1024 0.90-0.91x at
// B1 D1536 N16 L4096 (0.89x at B8 L2048, 0.91x at B1 L16384), 2048 as 1024; in WASM (V8, Node 20) 1024 took 0.95x
// (relaxed SIMD) and 0.95x (SIMD128). With 64-step chunks, prefetching the next chunk's rows gained 6-12%; with 1024,
// nothing (1.03x and 1.005x as long with it), so there is none.
constexpr int64_t kChunk = 1024;
// mamba_ssm's softplus threshold (scalar tail only): above it softplus(x) == x in float32.
constexpr float kSoftplusThreshold = 20.0f;

// Channels per step task: the task's dt, dt*x and gate fit in three stack arrays of this many floats.
constexpr int64_t kStepBlock = 256;

// Scratch floats one task needs: 4 [chunk][lanes] buffers, h and A as [dstate][lanes], bias and D.
inline int64_t ScanScratchFloats(int64_t lanes, int64_t dstate, int64_t chunk) {
  return (4 * chunk + 2 * dstate + 2) * lanes;
}
}  // namespace ls
#endif

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// States advanced together through a chunk: they share the loads of dt and dt*u and the load and store of y.
// Measured (B1 D1536 N16 L4096, one thread, M elements/s): AVX-512 1 -> 4 states 223 -> 230;
// WASM (V8, 16 xmm registers, so 4 states spill some) 1 / 2 / 4 states: 49 / 55 / 57. In the relaxed-SIMD build
// (fused multiply-adds) fewer states are faster: fastest of interleaved runs (V8 in Node 20), 3 states beat 4 by 1-5%
// in seven comparisons (55.3-58.7 ms against 57.0-61.4), and 2 states beat 3 by 0-2% in eight of nine; in the SIMD128
// build 3 and 4 tie and 2 is 2-3% slower (66.7-68.0 ms against 65.0-66.7), so it keeps 4.
#if HWY_TARGET == HWY_WASM && defined(__wasm_relaxed_simd__)
constexpr int64_t kStates = 2;
#else
constexpr int64_t kStates = 4;
#endif

// Advances K states (their A*log2(e) and h rows in a_buf and h_buf, [K][lanes]) through tc steps, adding
// their contributions C_t[n] * h_t[n] to y_buf. B and C point at the first state's row; rows are `*_row` apart.
// kDomain: what is known of dt * A * log2(e) in this chunk (see ScanBlock), so which clamps the exp can drop.
template <int K, ExpDomain kDomain, class D>
HWY_INLINE void ScanStates(D df, int64_t tc, int64_t lanes, const float* B, int64_t B_row, const float* C,
                           int64_t C_row, const float* a_buf, float* h_buf, const float* dt_buf,
                           const float* du_buf, float* y_buf) {
  using V = hn::Vec<D>;
  V a[K], h[K];
  for (int k = 0; k < K; ++k) {
    a[k] = hn::Load(df, a_buf + k * lanes);
    h[k] = hn::Load(df, h_buf + k * lanes);
  }
  for (int64_t t = 0; t < tc; ++t) {
    const V dt = hn::Load(df, dt_buf + t * lanes);
    const V du = hn::Load(df, du_buf + t * lanes);
    V y = hn::Load(df, y_buf + t * lanes);
    for (int k = 0; k < K; ++k) {
      const V decay = FastExp2<kDomain>(df, hn::Mul(dt, a[k]));
      h[k] = Madd(decay, h[k], hn::Mul(du, hn::Set(df, B[k * B_row + t])));
      y = Madd(h[k], hn::Set(df, C[k * C_row + t]), y);
    }
    hn::Store(y, df, y_buf + t * lanes);
  }
  for (int k = 0; k < K; ++k) hn::Store(h[k], df, h_buf + k * lanes);
}

// Scans one (batch row, channel block) task; `scratch` holds ScanScratchFloats(lanes, dstate, chunk) floats.
void ScanBlock(const ls_selective_scan_params& p, int64_t b, int64_t d0, int64_t nl, int64_t chunk,
               float* scratch) {
  const hn::ScalableTag<float> df;
  using V = hn::Vec<decltype(df)>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const int64_t N = p.dstate;
  const int64_t g = d0 / (p.dim / p.groups);

  float* dt_buf = scratch;                 // [chunk][lanes]
  float* du_buf = dt_buf + chunk * lanes;  // dt * u
  float* y_buf = du_buf + chunk * lanes;
  float* z_buf = y_buf + chunk * lanes;
  float* h_buf = z_buf + chunk * lanes;  // [N][lanes] state
  float* a_buf = h_buf + N * lanes;       // [N][lanes] A transposed
  float* bias_buf = a_buf + N * lanes;    // [lanes]
  float* skip_buf = bias_buf + lanes;     // [lanes] D
  // Padding lanes (channels past the block) stay zero: dt*A = 0, dt*u = 0, so their state stays 0 and
  // nothing non-finite appears in them.
  memset(scratch, 0, sizeof(float) * ScanScratchFloats(lanes, N, chunk));

  // With softplus, dt >= 0; if this block's A is <= 0 too, every exp(dt * A) is a decay (the common case:
  // trained Mamba models have A = -exp(A_log)). Then a chunk whose largest dt keeps dt * |A| * log2(e) within
  // 126 needs no clamp at all (the exp's arguments stay in [-126, 0]): checked per chunk from the block's largest
  // |A|, it saves the clamp and its constant in the innermost loop (in WASM, one vector register fewer to spill).
  const bool softplus = p.delta_softplus != 0;
  bool decays_only = softplus;
  float largest_rate = 0.0f;  // max |A| * log2(e) over the block
  for (int64_t i = 0; i < nl; ++i) {
    const int64_t d = d0 + i;
    for (int64_t n = 0; n < N; ++n) {
      const float a = p.A[d * N + n];
      // The decay is computed as 2^(dt * A*log2(e)), so A is scaled once here.
      const float rate = a * kLog2E;
      a_buf[n * lanes + i] = rate;
      if (!(a <= 0.0f)) decays_only = false;  // NaN too
      if (-rate > largest_rate) largest_rate = -rate;
      // FastExp2 does not propagate NaN; a NaN in A would make every exp(dt*A) NaN and with it h from the first
      // step on, so starting h at NaN gives the same result (NaN * decay stays NaN).
      h_buf[n * lanes + i] = a != a ? a : p.initial_state ? p.initial_state[(b * p.dim + d) * N + n] : 0.0f;
    }
    bias_buf[i] = p.delta_bias ? p.delta_bias[d] : 0.0f;
    skip_buf[i] = p.D ? p.D[d] : 0.0f;
  }
  const V bias = hn::Load(df, bias_buf);
  const V skip = hn::Load(df, skip_buf);

  const float* u_row = p.u + b * p.u_strides.batch + d0 * p.u_strides.row;
  const float* delta_row = p.delta + b * p.delta_strides.batch + d0 * p.delta_strides.row;
  const float* z_row = p.z ? p.z + b * p.z_strides.batch + d0 * p.z_strides.row : nullptr;
  float* y_row = p.y + b * p.y_strides.batch + d0 * p.y_strides.row;

  for (int64_t t0 = 0; t0 < p.seqlen; t0 += chunk) {
    const int64_t tc = p.seqlen - t0 < chunk ? p.seqlen - t0 : chunk;

    // 1. Transpose in; dt = softplus(delta + bias); du = dt * u; y starts at D * u.
    RowsToLanes(delta_row + t0, p.delta_strides.row, nl, tc, dt_buf, lanes);
    RowsToLanes(u_row + t0, p.u_strides.row, nl, tc, du_buf, lanes);
    V largest_dt = hn::Zero(df);
    for (int64_t t = 0; t < tc; ++t) {
      V dt = hn::Add(hn::Load(df, dt_buf + t * lanes), bias);
      if (softplus) dt = Softplus(df, dt);
      largest_dt = hn::Max(largest_dt, dt);
      const V u = hn::Load(df, du_buf + t * lanes);
      hn::Store(dt, df, dt_buf + t * lanes);
      hn::Store(hn::Mul(dt, u), df, du_buf + t * lanes);
      hn::Store(hn::Mul(skip, u), df, y_buf + t * lanes);
    }

    // 2. The recurrence, kStates states per pass (h in registers across the chunk).
    const float* B_g = p.B + b * p.B_strides.batch + g * N * p.B_strides.row + t0;
    const float* C_g = p.C + b * p.C_strides.batch + g * N * p.C_strides.row + t0;
    // A NaN dt may or may not win the Max above (its NaN rule differs by target); either way it reaches h through
    // dt * u, and an unclamped exp of it is NaN too.
    const bool in_range = decays_only && hn::GetLane(hn::MaxOfLanes(df, largest_dt)) * largest_rate <= 126.0f;
    // One pass of K states from state n, in the most that is known of this chunk's exp arguments.
    const auto pass = [&](auto states, int64_t n) {
      constexpr int K = decltype(states)::value;
      const float* Bn = B_g + n * p.B_strides.row;
      const float* Cn = C_g + n * p.C_strides.row;
      if (in_range) {
        ScanStates<K, ExpDomain::kInRange>(df, tc, lanes, Bn, p.B_strides.row, Cn, p.C_strides.row, a_buf + n * lanes,
                                           h_buf + n * lanes, dt_buf, du_buf, y_buf);
      } else if (decays_only) {
        ScanStates<K, ExpDomain::kDecay>(df, tc, lanes, Bn, p.B_strides.row, Cn, p.C_strides.row, a_buf + n * lanes,
                                         h_buf + n * lanes, dt_buf, du_buf, y_buf);
      } else {
        ScanStates<K, ExpDomain::kAny>(df, tc, lanes, Bn, p.B_strides.row, Cn, p.C_strides.row, a_buf + n * lanes,
                                       h_buf + n * lanes, dt_buf, du_buf, y_buf);
      }
    };
    int64_t n = 0;
    for (; n + kStates <= N; n += kStates) pass(std::integral_constant<int, kStates>(), n);
    for (; n < N; ++n) pass(std::integral_constant<int, 1>(), n);

    // 3. z gate: y *= z * sigmoid(z); then transpose out.
    if (z_row) {
      RowsToLanes(z_row + t0, p.z_strides.row, nl, tc, z_buf, lanes);
      for (int64_t t = 0; t < tc; ++t) {
        const V z = hn::Load(df, z_buf + t * lanes);
        hn::Store(hn::Mul(hn::Load(df, y_buf + t * lanes), Silu(df, z)), df, y_buf + t * lanes);
      }
    }
    LanesToRows(y_buf, lanes, nl, tc, y_row + t0, p.y_strides.row);
  }

  if (p.final_state) {
    for (int64_t i = 0; i < nl; ++i) {
      float* out = p.final_state + (b * p.dim + d0 + i) * N;
      for (int64_t n = 0; n < N; ++n) out[n] = h_buf[n * lanes + i];
    }
  }
}

// One step for batch row b, channels [d0, d0 + count), count <= kStepBlock.
void StepBlock(const ls_selective_scan_step_params& p, int64_t b, int64_t d0, int64_t count) {
  const hn::ScalableTag<float> df;
  using V = hn::Vec<decltype(df)>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const int64_t N = p.dstate;
  const int64_t per_group = p.dim / p.groups;
  HWY_ALIGN float dt_buf[kStepBlock];
  HWY_ALIGN float du_buf[kStepBlock];
  HWY_ALIGN float gate_buf[kStepBlock];

  // Per channel: dt = softplus(delta + bias), dt * x, and the z gate, a vector of channels at a time
  // (x, delta and z are [B, D], contiguous in d); the tail past the last full vector is scalar.
  const float* x = p.x + b * p.dim + d0;
  const float* delta = p.delta + b * p.dim + d0;
  const float* z = p.z ? p.z + b * p.dim + d0 : nullptr;
  const float* bias = p.delta_bias ? p.delta_bias + d0 : nullptr;
  int64_t i = 0;
  for (; i + lanes <= count; i += lanes) {
    V dt = hn::LoadU(df, delta + i);
    if (bias) dt = hn::Add(dt, hn::LoadU(df, bias + i));
    if (p.delta_softplus) {
      dt = Softplus(df, dt);
    }
    hn::Store(dt, df, dt_buf + i);
    hn::Store(hn::Mul(dt, hn::LoadU(df, x + i)), df, du_buf + i);
    if (z) {
      const V zv = hn::LoadU(df, z + i);
      hn::Store(Silu(df, zv), df, gate_buf + i);
    }
  }
  for (; i < count; ++i) {
    float dt = delta[i] + (bias ? bias[i] : 0.0f);
    if (p.delta_softplus && dt <= kSoftplusThreshold) dt = log1pf(expf(dt));
    dt_buf[i] = dt;
    du_buf[i] = dt * x[i];
    if (z) gate_buf[i] = z[i] / (1.0f + expf(-z[i]));
  }

  for (int64_t c = 0; c < count; ++c) {
    const int64_t d = d0 + c;
    const int64_t g = d / per_group;
    float* h = p.state + (b * p.dim + d) * N;
    const float* A = p.A + d * N;
    const float* B = p.B + (b * p.groups + g) * N;
    const float* C = p.C + (b * p.groups + g) * N;
    const V dt2 = hn::Set(df, dt_buf[c] * kLog2E);
    const V du = hn::Set(df, du_buf[c]);
    V acc = hn::Zero(df);
    int64_t n = 0;
    for (; n + lanes <= N; n += lanes) {
      const V e = hn::Mul(hn::LoadU(df, A + n), dt2);
      // FastExp2 does not propagate NaN (from A or dt); the reference's exp does.
      const V decay = hn::IfThenElse(hn::Eq(e, e), FastExp2(df, e), e);
      const V hn_new = Madd(decay, hn::LoadU(df, h + n), hn::Mul(du, hn::LoadU(df, B + n)));
      hn::StoreU(hn_new, df, h + n);
      acc = Madd(hn_new, hn::LoadU(df, C + n), acc);
    }
    float y = hn::GetLane(hn::SumOfLanes(df, acc));
    for (; n < N; ++n) {
      h[n] = expf(dt_buf[c] * A[n]) * h[n] + du_buf[c] * B[n];
      y += h[n] * C[n];
    }
    if (p.D) y += p.D[d] * x[c];
    if (z) y *= gate_buf[c];
    p.y[b * p.dim + d] = y;
  }
}

int64_t ScanLanes() { return static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>())); }

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ls {
HWY_EXPORT(ScanBlock);
HWY_EXPORT(StepBlock);
HWY_EXPORT(ScanLanes);

namespace {

ls_status CheckStrides(const char* name, const ls_row_strides& s) {
  if (s.batch < 0 || s.row < 0) {
    return Fail(LS_INVALID_ARGUMENT, "%s strides must be >= 0, got {batch %lld, row %lld}", name,
                static_cast<long long>(s.batch), static_cast<long long>(s.row));
  }
  return LS_OK;
}

ls_status CheckGroups(int64_t dim, int64_t groups) {
  if (dim % groups == 0) return LS_OK;
  return Fail(LS_INVALID_ARGUMENT, "dim (%lld) must be a multiple of groups (%lld)", static_cast<long long>(dim),
              static_cast<long long>(groups));
}

}  // namespace

ls_status ValidateSelectiveScan(const ls_selective_scan_params& p) {
  ls_status s;
  if ((s = CheckPositive("batch", p.batch)) || (s = CheckPositive("dim", p.dim)) ||
      (s = CheckPositive("dstate", p.dstate)) || (s = CheckPositive("seqlen", p.seqlen)) ||
      (s = CheckPositive("groups", p.groups)) || (s = CheckPointer("u", p.u)) ||
      (s = CheckPointer("delta", p.delta)) || (s = CheckPointer("A", p.A)) || (s = CheckPointer("B", p.B)) ||
      (s = CheckPointer("C", p.C)) || (s = CheckPointer("y", p.y)) || (s = CheckStrides("u", p.u_strides)) ||
      (s = CheckStrides("delta", p.delta_strides)) || (s = CheckStrides("z", p.z_strides)) ||
      (s = CheckStrides("B", p.B_strides)) || (s = CheckStrides("C", p.C_strides)) ||
      (s = CheckStrides("y", p.y_strides)) || (s = CheckGroups(p.dim, p.groups))) {
    return s;
  }
  if (p.dstate > (int64_t{1} << 20)) {
    return Fail(LS_INVALID_ARGUMENT, "dstate must be <= 2^20, got %lld", static_cast<long long>(p.dstate));
  }
  return CheckStorage(p.storage);
}

ls_status ValidateSelectiveScanStep(const ls_selective_scan_step_params& p) {
  ls_status s;
  if ((s = CheckPositive("batch", p.batch)) || (s = CheckPositive("dim", p.dim)) ||
      (s = CheckPositive("dstate", p.dstate)) || (s = CheckPositive("groups", p.groups)) ||
      (s = CheckPointer("state", p.state)) || (s = CheckPointer("x", p.x)) || (s = CheckPointer("delta", p.delta)) ||
      (s = CheckPointer("A", p.A)) || (s = CheckPointer("B", p.B)) || (s = CheckPointer("C", p.C)) ||
      (s = CheckPointer("y", p.y)) || (s = CheckGroups(p.dim, p.groups))) {
    return s;
  }
  return CheckStorage(p.storage);
}

ls_status SelectiveScan(const ls_selective_scan_params& p) {
  if (ls_status s = ValidateSelectiveScan(p)) return s;
  if (ls_status s = CheckFloat32Storage(p.storage)) return s;
  const int64_t lanes = HWY_DYNAMIC_DISPATCH(ScanLanes)();
  const int64_t per_group = p.dim / p.groups;
  const int64_t blocks_per_group = (per_group + lanes - 1) / lanes;
  const int64_t tasks_per_batch = p.groups * blocks_per_group;
  const int64_t tasks = p.batch * tasks_per_batch;
  const int64_t chunk = p.seqlen < kChunk ? p.seqlen : kChunk;
  const int workers = ParallelWorkers(tasks, p.threads);

  // All scratch is taken before any output is written, so running out of memory leaves the outputs (and a
  // step's in-place state) untouched.
  ScratchBuffers scratch(workers, ScanScratchFloats(lanes, p.dstate, chunk));
  if (ls_status s = scratch.Check()) return s;
  auto scan_task = [&](int64_t task, int worker) {
    if (Cancelled(p.cancel)) return;
    const int64_t b = task / tasks_per_batch;
    const int64_t in_batch = task % tasks_per_batch;
    const int64_t group = in_batch / blocks_per_group;
    const int64_t first = (in_batch % blocks_per_group) * lanes;
    const int64_t d0 = group * per_group + first;
    const int64_t nl = per_group - first < lanes ? per_group - first : lanes;
    HWY_DYNAMIC_DISPATCH(ScanBlock)(p, b, d0, nl, chunk, scratch.get(worker));
  };
  ParallelFor(tasks, workers, scan_task);
  return Cancelled(p.cancel) ? CancelledStatus() : LS_OK;
}

ls_status SelectiveScanStep(const ls_selective_scan_step_params& p) {
  if (ls_status s = ValidateSelectiveScanStep(p)) return s;
  if (ls_status s = CheckFloat32Storage(p.storage)) return s;
  if (Cancelled(p.cancel)) return CancelledStatus();  // only before: state is all or nothing
  const int64_t blocks = (p.dim + kStepBlock - 1) / kStepBlock;
  auto step_task = [&](int64_t task, int) {
    const int64_t b = task / blocks;
    const int64_t d0 = (task % blocks) * kStepBlock;
    HWY_DYNAMIC_DISPATCH(StepBlock)(p, b, d0, p.dim - d0 < kStepBlock ? p.dim - d0 : kStepBlock);
  };
  ParallelFor(p.batch * blocks, p.threads, step_task);
  return LS_OK;
}

}  // namespace ls

extern "C" ls_status ls_selective_scan_cpu(const ls_selective_scan_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::SelectiveScan(*p);
}

extern "C" ls_status ls_selective_scan_step_cpu(const ls_selective_scan_step_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::SelectiveScanStep(*p);
}
#endif  // HWY_ONCE
