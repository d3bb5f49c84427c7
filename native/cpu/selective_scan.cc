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

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/selective_scan.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#ifndef LONGSEQ_CPU_SELECTIVE_SCAN_ONCE
#define LONGSEQ_CPU_SELECTIVE_SCAN_ONCE
#include <stdlib.h>
#include <string.h>

#include "cpu/scratch.h"
#include "cpu/status.h"
#include "cpu/thread_pool.h"
#include "longseq/longseq.h"

namespace ls {
// Steps per chunk: the [t][lane] scratch (4 buffers of kChunk * lanes floats, 16 KiB with 16 lanes) stays in L1.
constexpr int64_t kChunk = 64;
// mamba_ssm's softplus threshold: above it softplus(x) == x in float32.
constexpr float kSoftplusThreshold = 20.0f;

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

  for (int64_t i = 0; i < nl; ++i) {
    const int64_t d = d0 + i;
    for (int64_t n = 0; n < N; ++n) {
      a_buf[n * lanes + i] = p.A[d * N + n];
      h_buf[n * lanes + i] = p.initial_state ? p.initial_state[(b * p.dim + d) * N + n] : 0.0f;
    }
    bias_buf[i] = p.delta_bias ? p.delta_bias[d] : 0.0f;
    skip_buf[i] = p.D ? p.D[d] : 0.0f;
  }
  const V bias = hn::Load(df, bias_buf);
  const V skip = hn::Load(df, skip_buf);
  const V threshold = hn::Set(df, kSoftplusThreshold);
  const V one = hn::Set(df, 1.0f);

  const float* u_row = p.u + b * p.u_strides.s0 + d0 * p.u_strides.s1;
  const float* delta_row = p.delta + b * p.delta_strides.s0 + d0 * p.delta_strides.s1;
  const float* z_row = p.z ? p.z + b * p.z_strides.s0 + d0 * p.z_strides.s1 : nullptr;
  float* y_row = p.y + b * p.y_strides.s0 + d0 * p.y_strides.s1;

  for (int64_t t0 = 0; t0 < p.seqlen; t0 += chunk) {
    const int64_t tc = p.seqlen - t0 < chunk ? p.seqlen - t0 : chunk;

    // 1. Transpose in; dt = softplus(delta + bias); du = dt * u; y starts at D * u.
    for (int64_t i = 0; i < nl; ++i) {
      const float* dr = delta_row + i * p.delta_strides.s1 + t0 * p.delta_strides.s2;
      const float* ur = u_row + i * p.u_strides.s1 + t0 * p.u_strides.s2;
      for (int64_t t = 0; t < tc; ++t) {
        dt_buf[t * lanes + i] = dr[t * p.delta_strides.s2];
        du_buf[t * lanes + i] = ur[t * p.u_strides.s2];
      }
    }
    for (int64_t t = 0; t < tc; ++t) {
      V dt = hn::Add(hn::Load(df, dt_buf + t * lanes), bias);
      if (p.delta_softplus) {
        dt = hn::IfThenElse(hn::Gt(dt, threshold), dt, hn::Log1p(df, hn::Exp(df, dt)));
      }
      const V u = hn::Load(df, du_buf + t * lanes);
      hn::Store(dt, df, dt_buf + t * lanes);
      hn::Store(hn::Mul(dt, u), df, du_buf + t * lanes);
      hn::Store(hn::Mul(skip, u), df, y_buf + t * lanes);
    }

    // 2. The recurrence, one state at a time, h[n] in a register across the chunk.
    const float* B_n = p.B + b * p.B_strides.s0 + g * N * p.B_strides.s1 + t0 * p.B_strides.s2;
    const float* C_n = p.C + b * p.C_strides.s0 + g * N * p.C_strides.s1 + t0 * p.C_strides.s2;
    for (int64_t n = 0; n < N; ++n, B_n += p.B_strides.s1, C_n += p.C_strides.s1) {
      const V a = hn::Load(df, a_buf + n * lanes);
      V h = hn::Load(df, h_buf + n * lanes);
      for (int64_t t = 0; t < tc; ++t) {
        const V dt = hn::Load(df, dt_buf + t * lanes);
        const V decay = hn::Exp(df, hn::Mul(dt, a));
        const V input = hn::Mul(hn::Load(df, du_buf + t * lanes), hn::Set(df, B_n[t * p.B_strides.s2]));
        h = hn::MulAdd(decay, h, input);
        float* y = y_buf + t * lanes;
        hn::Store(hn::MulAdd(h, hn::Set(df, C_n[t * p.C_strides.s2]), hn::Load(df, y)), df, y);
      }
      hn::Store(h, df, h_buf + n * lanes);
    }

    // 3. z gate: y *= z * sigmoid(z); then transpose out.
    if (z_row) {
      for (int64_t i = 0; i < nl; ++i) {
        const float* zr = z_row + i * p.z_strides.s1 + t0 * p.z_strides.s2;
        for (int64_t t = 0; t < tc; ++t) z_buf[t * lanes + i] = zr[t * p.z_strides.s2];
      }
      for (int64_t t = 0; t < tc; ++t) {
        const V z = hn::Load(df, z_buf + t * lanes);
        const V silu = hn::Div(z, hn::Add(one, hn::Exp(df, hn::Neg(z))));
        hn::Store(hn::Mul(hn::Load(df, y_buf + t * lanes), silu), df, y_buf + t * lanes);
      }
    }
    for (int64_t i = 0; i < nl; ++i) {
      float* yr = y_row + i * p.y_strides.s1 + t0 * p.y_strides.s2;
      for (int64_t t = 0; t < tc; ++t) yr[t * p.y_strides.s2] = y_buf[t * lanes + i];
    }
  }

  if (p.final_state) {
    for (int64_t i = 0; i < nl; ++i) {
      float* out = p.final_state + (b * p.dim + d0 + i) * N;
      for (int64_t n = 0; n < N; ++n) out[n] = h_buf[n * lanes + i];
    }
  }
}

int64_t ScanLanes() { return static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>())); }

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ls {
HWY_EXPORT(ScanBlock);
HWY_EXPORT(ScanLanes);

namespace {

ls_status CheckStrides(const char* name, const ls_strides3& s) {
  if (s.s0 < 0 || s.s1 < 0 || s.s2 < 0) {
    return Fail(LS_INVALID_ARGUMENT, "%s strides must be >= 0, got [%lld, %lld, %lld]", name,
                static_cast<long long>(s.s0), static_cast<long long>(s.s1), static_cast<long long>(s.s2));
  }
  return LS_OK;
}

ls_status Validate(const ls_selective_scan_params& p) {
  ls_status s;
  if ((s = CheckPositive("batch", p.batch)) || (s = CheckPositive("dim", p.dim)) ||
      (s = CheckPositive("dstate", p.dstate)) || (s = CheckPositive("seqlen", p.seqlen)) ||
      (s = CheckPositive("groups", p.groups)) || (s = CheckPointer("u", p.u)) ||
      (s = CheckPointer("delta", p.delta)) || (s = CheckPointer("A", p.A)) || (s = CheckPointer("B", p.B)) ||
      (s = CheckPointer("C", p.C)) || (s = CheckPointer("y", p.y)) || (s = CheckStrides("u", p.u_strides)) ||
      (s = CheckStrides("delta", p.delta_strides)) || (s = CheckStrides("z", p.z_strides)) ||
      (s = CheckStrides("B", p.B_strides)) || (s = CheckStrides("C", p.C_strides)) ||
      (s = CheckStrides("y", p.y_strides))) {
    return s;
  }
  if (p.dim % p.groups != 0) {
    return Fail(LS_INVALID_ARGUMENT, "dim (%lld) must be a multiple of groups (%lld)",
                static_cast<long long>(p.dim), static_cast<long long>(p.groups));
  }
  if (p.dstate > (int64_t{1} << 20)) {
    return Fail(LS_INVALID_ARGUMENT, "dstate must be <= 2^20, got %lld", static_cast<long long>(p.dstate));
  }
  return LS_OK;
}

}  // namespace

ls_status SelectiveScan(const ls_selective_scan_params& p) {
  if (ls_status s = Validate(p)) return s;
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
  if (!scratch.ok()) return Fail(LS_OUT_OF_MEMORY, "selectiveScan: out of memory for scratch buffers");
  auto scan_task = [&](int64_t task, int worker) {
    const int64_t b = task / tasks_per_batch;
    const int64_t in_batch = task % tasks_per_batch;
    const int64_t group = in_batch / blocks_per_group;
    const int64_t first = (in_batch % blocks_per_group) * lanes;
    const int64_t d0 = group * per_group + first;
    const int64_t nl = per_group - first < lanes ? per_group - first : lanes;
    HWY_DYNAMIC_DISPATCH(ScanBlock)(p, b, d0, nl, chunk, scratch.get(worker));
  };
  ParallelFor(tasks, workers, scan_task);
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
  if (ls_status s = ls::CheckPointer("state", p->state)) return s;
  // A step is a scan of length 1 that starts from the state and writes the state back in place.
  ls_selective_scan_params scan = {};
  scan.threads = p->threads;
  scan.batch = p->batch;
  scan.dim = p->dim;
  scan.dstate = p->dstate;
  scan.seqlen = 1;
  scan.groups = p->groups;
  scan.u = p->x;
  scan.u_strides = {p->dim, 1, 1};
  scan.delta = p->delta;
  scan.delta_strides = {p->dim, 1, 1};
  scan.z = p->z;
  scan.z_strides = {p->dim, 1, 1};
  scan.B = p->B;
  scan.B_strides = {p->groups * p->dstate, 1, 1};
  scan.C = p->C;
  scan.C_strides = {p->groups * p->dstate, 1, 1};
  scan.A = p->A;
  scan.D = p->D;
  scan.delta_bias = p->delta_bias;
  scan.delta_softplus = p->delta_softplus;
  scan.initial_state = p->state;
  scan.y = p->y;
  scan.y_strides = {p->dim, 1, 1};
  scan.final_state = p->state;
  return ls::SelectiveScan(scan);
}
#endif  // HWY_ONCE
