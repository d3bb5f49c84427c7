// Direct causal convolution of one row, time in the SIMD lanes (Highway per-target header: include after
// foreach_target.h). Shared by causalConv1d and fftConv's direct path.

#if defined(LONGSEQ_CPU_CONV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LONGSEQ_CPU_CONV_INL_H_
#undef LONGSEQ_CPU_CONV_INL_H_
#else
#define LONGSEQ_CPU_CONV_INL_H_
#endif

#include <math.h>
#include <stdint.h>

#include "cpu/simd_math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// y[0, count) = act(bias + sum_{w<W} weight[w] * src[t + w]): src holds the W-1 inputs before y[0] first.
// Each output vector takes W unaligned loads (L1 hits). kW > 0: the width known at compile time, each weight
// broadcast once into a register and the taps unrolled (in WASM the loop over taps, with a broadcast per tap and
// vector, took as long as the SiLU); kW = 0: W at run time, a broadcast per tap.
template <int kW, class D>
HWY_INLINE void ConvolveRun(D d, const float* src, int64_t count, const float* weight, int64_t W, float bias,
                            bool silu, float* y) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  V taps[kW > 0 ? kW : 1];
  for (int w = 0; w < kW; ++w) taps[w] = hn::Set(d, weight[w]);
  const auto tap = [&](int64_t w) {
    if constexpr (kW > 0) return taps[w];
    return hn::Set(d, weight[w]);
  };
  const int64_t width = kW > 0 ? kW : W;  // a constant where kW > 0: the loop over taps unrolls
  // WASM takes a block of outputs at a time: the convolution, then SiLU over the block while it is in L1. One fused
  // loop holds the W weights, the bias and SiLU's nine constants at once, more than WASM's 16 registers, and V8
  // reloaded the constants from the stack every vector: split, B1 D1536 L4096 W4 went 4.9-5.1 -> 4.0-4.1 ms
  // (Node, relaxed SIMD) and 5.1-5.3 -> 4.5 ms (Chromium). AVX-512's 32 registers hold it all, and there the
  // second pass made the (memory-bound) kernel 25% slower, so elsewhere SiLU stays in the one loop.
  constexpr bool kSiluPass = HWY_TARGET == HWY_WASM;
  constexpr int64_t kBlock = 512;
  const int64_t vectors_end = count - count % lanes;
  int64_t t = 0;
  for (int64_t t0 = 0; t0 < vectors_end; t0 += kBlock) {
    const int64_t t1 = t0 + kBlock < vectors_end ? t0 + kBlock : vectors_end;
    for (t = t0; t < t1; t += lanes) {
      V acc = hn::Set(d, bias);
      for (int64_t w = 0; w < width; ++w) acc = Madd(tap(w), hn::LoadU(d, src + t + w), acc);
      if (silu && !kSiluPass) acc = Silu(d, acc);
      hn::StoreU(acc, d, y + t);
    }
    if (silu && kSiluPass) {
      for (t = t0; t < t1; t += lanes) hn::StoreU(Silu(d, hn::LoadU(d, y + t)), d, y + t);
    }
  }
  for (t = vectors_end; t < count; ++t) {
    float acc = bias;
    for (int64_t w = 0; w < W; ++w) acc += weight[w] * src[t + w];
    y[t] = silu ? acc / (1.0f + expf(-acc)) : acc;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#endif  // LONGSEQ_CPU_CONV_INL_H_
