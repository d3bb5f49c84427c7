// Short causal depthwise convolution on the CPU: ls_causal_conv1d_cpu and ls_causal_conv1d_step_cpu.
//
// Memory bound (W <= 64 multiply-adds per 8 bytes moved), so one pass: the tensors are [B, D, L], contiguous
// in time, so time goes in the SIMD lanes. An output vector is bias + sum_w weight[w] * (x shifted by w), W
// unaligned loads that hit L1, each weight broadcast once per row. (Channels in lanes would need a transpose
// for this layout; ggml's channels-in-lanes ssm_conv works on a channels-innermost layout.) The first W-1
// outputs of a row read the initial state and go through a small staging buffer.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/causal_conv1d.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "cpu/conv-inl.h"

#ifndef LONGSEQ_CPU_CAUSAL_CONV1D_ONCE
#define LONGSEQ_CPU_CAUSAL_CONV1D_ONCE
#include <math.h>
#include <string.h>

#include "cpu/causal_conv1d.h"
#include "cpu/status.h"
#include "cpu/thread_pool.h"
#include "longseq/longseq.h"

namespace ls {
constexpr int64_t kMaxConvWidth = 64;
// Rows per task: enough work to amortise scheduling, small enough to balance threads.
constexpr int64_t kConvRowsPerTask = 16;
// Outputs computed through the staging buffer at the start of a row (>= kMaxConvWidth - 1).
constexpr int64_t kConvHead = 64;
}  // namespace ls
#endif

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ConvolveRun with the widths of real models (2 to 8) fixed at compile time.
template <class D>
void ConvolveRow(D d, const float* src, int64_t count, const float* weight, int64_t W, float bias, bool silu, float* y) {
  switch (W) {
    case 2: return ConvolveRun<2>(d, src, count, weight, W, bias, silu, y);
    case 3: return ConvolveRun<3>(d, src, count, weight, W, bias, silu, y);
    case 4: return ConvolveRun<4>(d, src, count, weight, W, bias, silu, y);
    case 5: return ConvolveRun<5>(d, src, count, weight, W, bias, silu, y);
    case 6: return ConvolveRun<6>(d, src, count, weight, W, bias, silu, y);
    case 7: return ConvolveRun<7>(d, src, count, weight, W, bias, silu, y);
    case 8: return ConvolveRun<8>(d, src, count, weight, W, bias, silu, y);
    default: return ConvolveRun<0>(d, src, count, weight, W, bias, silu, y);
  }
}

// Rows [row0, row1) of the flattened [B * D] rows.
void ConvRows(const ls_causal_conv1d_params& p, int64_t row0, int64_t row1) {
  const hn::ScalableTag<float> d;
  const int64_t L = p.seqlen, W = p.width;
  const bool silu = p.activation == LS_ACTIVATION_SILU;
  HWY_ALIGN float staging[kMaxConvWidth - 1 + kConvHead];
  for (int64_t row = row0; row < row1; ++row) {
    const int64_t channel = row % p.dim;
    const float* weight = p.weight + channel * W;
    const float bias = p.bias ? p.bias[channel] : 0.0f;
    const float* x = p.x + row * L;
    float* y = p.y + row * L;
    const float* init = p.initial_state ? p.initial_state + row * (W - 1) : nullptr;

    // The first outputs see the initial state: stage [state | x[0, head)].
    const int64_t head = L < kConvHead ? L : kConvHead;
    for (int64_t i = 0; i < W - 1; ++i) staging[i] = init ? init[i] : 0.0f;
    memcpy(staging + W - 1, x, sizeof(float) * head);
    // Final state before y is written (y may not alias, but the state may alias initial_state): the last W-1
    // values of [state | x].
    float tail[kMaxConvWidth];
    if (p.final_state) {
      for (int64_t i = 0; i < W - 1; ++i) {
        const int64_t at = L + i;  // index in [state | x]
        tail[i] = at < W - 1 ? staging[at] : x[at - (W - 1)];
      }
    }
    ConvolveRow(d, staging, head, weight, W, bias, silu, y);
    // Output t reads x[t - W + 1, t], all inside x from t = W - 1 on (head >= W - 1).
    if (L > head) ConvolveRow(d, x + head - (W - 1), L - head, weight, W, bias, silu, y + head);
    if (p.final_state) memcpy(p.final_state + row * (W - 1), tail, sizeof(float) * (W - 1));
  }
}

// y[0, n) = SiLU(y), in vectors: the decode step's rows are computed one channel at a time (their state is
// interleaved), but a scalar expf per channel was most of the step's time.
void SiluInPlace(float* y, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(Silu(d, hn::LoadU(d, y + i)), d, y + i);
  if (i < n) {  // the tail through a buffer, so every channel takes the same SiLU
    HWY_ALIGN float tail[hn::MaxLanes(d)] = {};
    memcpy(tail, y + i, sizeof(float) * (n - i));
    hn::Store(Silu(d, hn::Load(d, tail)), d, tail);
    memcpy(y + i, tail, sizeof(float) * (n - i));
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ls {
HWY_EXPORT(ConvRows);
HWY_EXPORT(SiluInPlace);

namespace {

ls_status CheckWidth(int64_t width) {
  if (width >= 2 && width <= kMaxConvWidth) return LS_OK;
  return Fail(LS_INVALID_ARGUMENT, "width must be in [2, %lld], got %lld", static_cast<long long>(kMaxConvWidth),
              static_cast<long long>(width));
}

ls_status CheckActivation(int32_t activation) {
  if (activation == LS_ACTIVATION_NONE || activation == LS_ACTIVATION_SILU) return LS_OK;
  return Fail(LS_INVALID_ARGUMENT, "activation must be 0 (none) or 1 (silu), got %d", activation);
}

}  // namespace

ls_status ValidateCausalConv1d(const ls_causal_conv1d_params& p) {
  ls_status s;
  if ((s = CheckPositive("batch", p.batch)) || (s = CheckPositive("dim", p.dim)) ||
      (s = CheckPositive("seqlen", p.seqlen)) || (s = CheckWidth(p.width)) || (s = CheckActivation(p.activation)) ||
      (s = CheckPointer("x", p.x)) || (s = CheckPointer("weight", p.weight)) || (s = CheckPointer("y", p.y))) {
    return s;
  }
  return LS_OK;
}

ls_status ValidateCausalConv1dStep(const ls_causal_conv1d_step_params& p) {
  ls_status s;
  if ((s = CheckPositive("batch", p.batch)) || (s = CheckPositive("dim", p.dim)) || (s = CheckWidth(p.width)) ||
      (s = CheckActivation(p.activation)) || (s = CheckPointer("state", p.state)) || (s = CheckPointer("x", p.x)) ||
      (s = CheckPointer("weight", p.weight)) || (s = CheckPointer("y", p.y))) {
    return s;
  }
  return LS_OK;
}

ls_status CausalConv1d(const ls_causal_conv1d_params& p) {
  if (ls_status s = ValidateCausalConv1d(p)) return s;
  const int64_t rows = p.batch * p.dim;
  const int64_t tasks = (rows + kConvRowsPerTask - 1) / kConvRowsPerTask;
  auto task = [&](int64_t i, int) {
    if (Cancelled(p.cancel)) return;
    const int64_t row0 = i * kConvRowsPerTask;
    HWY_DYNAMIC_DISPATCH(ConvRows)(p, row0, row0 + kConvRowsPerTask < rows ? row0 + kConvRowsPerTask : rows);
  };
  ParallelFor(tasks, p.threads, task);
  return Cancelled(p.cancel) ? CancelledStatus() : LS_OK;
}

ls_status CausalConv1dStep(const ls_causal_conv1d_step_params& p) {
  if (ls_status s = ValidateCausalConv1dStep(p)) return s;
  if (Cancelled(p.cancel)) return CancelledStatus();  // only before: state is all or nothing
  // B * D rows of W multiply-adds each: a single pass over the state, not worth threads below ~1M rows.
  const int64_t W = p.width;
  const int64_t rows = p.batch * p.dim;
  const int64_t tasks = (rows + 4095) / 4096;
  auto task = [&](int64_t i, int) {
    const int64_t end = (i + 1) * 4096 < rows ? (i + 1) * 4096 : rows;
    int64_t channel = (i * 4096) % p.dim;  // one division per task, not per row (it cost more than the row)
    for (int64_t row = i * 4096; row < end; ++row, channel = channel + 1 == p.dim ? 0 : channel + 1) {
      const float* weight = p.weight + channel * W;
      float* state = p.state + row * (W - 1);
      const float x = p.x[row];
      float acc = p.bias ? p.bias[channel] : 0.0f;
      for (int64_t w = 0; w < W - 1; ++w) acc += weight[w] * state[w];
      acc += weight[W - 1] * x;
      p.y[row] = acc;
      for (int64_t w = 0; w + 1 < W - 1; ++w) state[w] = state[w + 1];
      state[W - 2] = x;
    }
    if (p.activation == LS_ACTIVATION_SILU) HWY_DYNAMIC_DISPATCH(SiluInPlace)(p.y + i * 4096, end - i * 4096);
  };
  ParallelFor(tasks, p.threads, task);
  return LS_OK;
}

}  // namespace ls

extern "C" ls_status ls_causal_conv1d_cpu(const ls_causal_conv1d_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::CausalConv1d(*p);
}

extern "C" ls_status ls_causal_conv1d_step_cpu(const ls_causal_conv1d_step_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::CausalConv1dStep(*p);
}
#endif  // HWY_ONCE
