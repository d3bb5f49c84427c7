// A linear layer on the CPU (ls_linear_cpu): y = x·Wᵀ + b, the projections around a model's scans.
//
// In a decode step (a few rows) it is a pass over the weights, so the loop is built for that: a task owns a run
// of output features (about 256 KB of weights), whose rows are read once and stay in cache while every row of x
// goes by, four rows and four outputs at a time (16 vector accumulators, each weight vector loaded once per four
// rows; two rows on WASM, which has half the registers), or for decode rows eight outputs at a time.
// The in_features axis is in the SIMD lanes; each output is one horizontal sum at the end.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/linear.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "cpu/simd_math-inl.h"

#ifndef LONGSEQ_CPU_LINEAR_ONCE
#define LONGSEQ_CPU_LINEAR_ONCE
#include <array>

#include "cpu/status.h"
#include "cpu/thread_pool.h"
#include "longseq/longseq.h"

namespace ls {
// Weight floats per task: big enough that waking a thread (~10 us here) is worth it, small enough to balance.
constexpr int64_t kLinearWeightsPerTask = 64 * 1024;
}  // namespace ls
#endif

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Outputs [o0, o0 + kO) of rows [r0, r0 + kR): kR·kO dot products over in_features.
template <int kR, int kO>
HWY_INLINE void DotBlock(const ls_linear_params& p, int64_t r0, int64_t o0) {
  const hn::ScalableTag<float> d;
  const int64_t K = p.in_features;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const float* x[kR];
  const float* w[kO];
  for (int r = 0; r < kR; ++r) x[r] = p.x + (r0 + r) * K;
  for (int o = 0; o < kO; ++o) w[o] = p.weight + (o0 + o) * K;
  auto acc = [&] {
    std::array<std::array<hn::Vec<decltype(d)>, kO>, kR> a;
    for (auto& row : a)
      for (auto& v : row) v = hn::Zero(d);
    return a;
  }();
  int64_t k = 0;
  for (; k + lanes <= K; k += lanes) {
    hn::Vec<decltype(d)> wv[kO];
    for (int o = 0; o < kO; ++o) wv[o] = hn::LoadU(d, w[o] + k);
    for (int r = 0; r < kR; ++r) {
      const auto xv = hn::LoadU(d, x[r] + k);
      for (int o = 0; o < kO; ++o) acc[r][o] = Madd(xv, wv[o], acc[r][o]);
    }
  }
  for (int r = 0; r < kR; ++r) {
    for (int o = 0; o < kO; ++o) {
      float sum = hn::GetLane(hn::SumOfLanes(d, acc[r][o]));
      for (int64_t t = k; t < K; ++t) sum += x[r][t] * w[o][t];
      p.y[(r0 + r) * p.out_features + o0 + o] = sum + (p.bias ? p.bias[o0 + o] : 0.0f);
    }
  }
}

// Accumulators in flight: 16 where there are 32 vector registers (AVX-512, and AVX2's 16 with room to spare
// for loads), 8 on WASM's SIMD128 (16 registers, more would spill).
#if HWY_TARGET == HWY_WASM
constexpr int kMaxAccumulators = 8;
#else
constexpr int kMaxAccumulators = 16;
#endif
constexpr int kRowsPerBlock = kMaxAccumulators / 4;

// Eight outputs at a time for decode rows (eight weight streams in flight) where the accumulators allow, four
// otherwise.
template <int kR>
HWY_INLINE void RowBlock(const ls_linear_params& p, int64_t r0, int64_t o0, int64_t o1) {
  int64_t o = o0;
  if (kR * 8 <= kMaxAccumulators) {
    for (; o + 8 <= o1; o += 8) DotBlock<kR, 8>(p, r0, o);
  }
  for (; o + 4 <= o1; o += 4) DotBlock<kR, 4>(p, r0, o);
  for (; o < o1; ++o) DotBlock<kR, 1>(p, r0, o);
}

// Every row, outputs [o0, o1).
void LinearOutputs(const ls_linear_params& p, int64_t o0, int64_t o1) {
  int64_t r = 0;
  for (; r + kRowsPerBlock <= p.rows; r += kRowsPerBlock) RowBlock<kRowsPerBlock>(p, r, o0, o1);
  switch (p.rows - r) {
    case 3: RowBlock<3>(p, r, o0, o1); break;
    case 2: RowBlock<2>(p, r, o0, o1); break;
    case 1: RowBlock<1>(p, r, o0, o1); break;
    default: break;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ls {
HWY_EXPORT(LinearOutputs);

ls_status Linear(const ls_linear_params& p) {
  ls_status s;
  if ((s = CheckPositive("rows", p.rows)) || (s = CheckPositive("in_features", p.in_features)) ||
      (s = CheckPositive("out_features", p.out_features)) || (s = CheckPointer("x", p.x)) ||
      (s = CheckPointer("weight", p.weight)) || (s = CheckPointer("y", p.y))) {
    return s;
  }
  // Outputs per task: a multiple of 8 holding about kLinearWeightsPerTask weights.
  int64_t per_task = (kLinearWeightsPerTask / p.in_features + 7) / 8 * 8;
  if (per_task < 8) per_task = 8;
  const int64_t tasks = (p.out_features + per_task - 1) / per_task;
  auto task = [&](int64_t i, int) {
    if (Cancelled(p.cancel)) return;
    const int64_t o0 = i * per_task;
    const int64_t o1 = o0 + per_task < p.out_features ? o0 + per_task : p.out_features;
    HWY_DYNAMIC_DISPATCH(LinearOutputs)(p, o0, o1);
  };
  ParallelFor(tasks, p.threads, task);
  return Cancelled(p.cancel) ? CancelledStatus() : LS_OK;
}

}  // namespace ls

extern "C" ls_status ls_linear_cpu(const ls_linear_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::Linear(*p);
}
#endif  // HWY_ONCE
