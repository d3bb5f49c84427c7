// Vector math shared by the CPU kernels (Highway per-target header: include after foreach_target.h).
//
// FastExp2 replaces Highway's Exp in the hot loops: the selective scan spends most of its time on exp(dt*A),
// and this version takes 11 vector ops where hwy::Exp takes about 25 (Cody-Waite reduction and a two-step
// rescale), for 1.9e-7 relative error instead of ~1e-7. Measured on the scan kernel (AVX-512, one thread):
// see the comment at its call site.

#if defined(LONGSEQ_CPU_SIMD_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LONGSEQ_CPU_SIMD_MATH_INL_H_
#undef LONGSEQ_CPU_SIMD_MATH_INL_H_
#else
#define LONGSEQ_CPU_SIMD_MATH_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// mul * x + add, and add - mul * x: Highway's MulAdd / NegMulAdd, except in the relaxed-SIMD WASM modules
// (built with -mrelaxed-simd, see CMakeLists.txt), where they are f32x4.relaxed_madd / relaxed_nmadd: one fused
// operation on hardware with FMA, where SIMD128 has only a multiply and an add. "Relaxed" because the engine may
// round once or twice; the kernels' tolerances allow either. Every kernel multiply-add goes through these.
template <bool kNegated, class V>
HWY_INLINE V FusedMulAdd(V mul, V x, V add) {
#if HWY_TARGET == HWY_WASM && defined(__wasm_relaxed_simd__)
  if constexpr (hwy::IsSame<hn::TFromV<V>, float>()) {
    return V{kNegated ? __builtin_wasm_fms_f32x4(mul.raw, x.raw, add.raw)
                      : __builtin_wasm_fma_f32x4(mul.raw, x.raw, add.raw)};
  }
#endif
  return kNegated ? hn::NegMulAdd(mul, x, add) : hn::MulAdd(mul, x, add);
}
template <class V>
HWY_INLINE V Madd(V mul, V x, V add) {
  return FusedMulAdd<false>(mul, x, add);
}
template <class V>
HWY_INLINE V Nmadd(V mul, V x, V add) {
  return FusedMulAdd<true>(mul, x, add);
}

// log2(e): exp(x) = 2^(x * kLog2E). Kernels fold it into constants (A * kLog2E) where they can.
constexpr float kLog2E = 1.44269504088896341f;

// 2^x for float32 lanes. x is clamped to [-126, 127]: below, the result is 2^-126 (the smallest normal,
// ~1.2e-38, not 0), above 2^127; in between the relative error is at most 1.9e-7. A NaN x gives an
// unspecified finite value: callers that must propagate NaN handle it where it enters (see selective_scan.cc).
// kPositive = false promises x <= 0 (a decay) and saves the upper clamp. kShortChain evaluates the polynomial in
// Estrin's scheme, a chain of three dependent steps instead of five for one more multiply: faster where the exp's
// latency shows (SiLU over a row, 12% in WASM at B1 D1536 L4096), slower where many independent exps already keep
// the units busy (the selective scan's, 5% on AVX-512), so only SiLU takes it.
template <bool kPositive = true, bool kShortChain = false, class D, class V = hn::Vec<D>>
HWY_INLINE V FastExp2(D d, V x) {
  const hn::RebindToSigned<D> di;
  x = hn::Max(x, hn::Set(d, -126.0f));
  if (kPositive) x = hn::Min(x, hn::Set(d, 127.0f));
  // Round to the nearest integer n without a conversion: adding 1.5 * 2^23 leaves n in the low mantissa bits
  // of `shifted` (exact for |x| < 2^22), and subtracting it again gives n as a float.
  const V magic = hn::Set(d, 12582912.0f);
  const V shifted = hn::Add(x, magic);
  const V f = hn::Sub(x, hn::Sub(shifted, magic));  // x - n, in [-0.5, 0.5], exact
  // 2^f on [-0.5, 0.5]: degree-5 polynomial, coefficients fitted for minimal max relative error.
  const V c5 = hn::Set(d, 0.001326472731307149f), c4 = hn::Set(d, 0.009671512991189957f);
  const V c3 = hn::Set(d, 0.05550733581185341f), c2 = hn::Set(d, 0.24022242426872253f);
  const V c1 = hn::Set(d, 0.6931470036506653f), c0 = hn::Set(d, 1.0f);
  V p;
  if (kShortChain) {
    const V f2 = hn::Mul(f, f);
    p = Madd(Madd(Madd(c5, f, c4), f2, Madd(c3, f, c2)), f2, Madd(c1, f, c0));
  } else {
    p = Madd(Madd(Madd(Madd(Madd(c5, f, c4), f, c3), f, c2), f, c1), f, c0);
  }
  // Multiply by 2^n by adding n to the exponent field: shifting `shifted`'s bits left by 23 drops the magic
  // number's own bits (its low 9 bits are zero) and leaves n << 23.
  return hn::BitCast(d, hn::Add(hn::BitCast(di, p), hn::ShiftLeft<23>(hn::BitCast(di, shifted))));
}

// e^x with FastExp2's range and error.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V FastExp(D d, V x) {
  return FastExp2(d, hn::Mul(x, hn::Set(d, kLog2E)));
}

// softplus(x) = log(1 + e^x), to within ~4e-7 relative, for any x; NaN stays NaN. Computed as
// max(x, 0) + log1p(e^-|x|), and log1p(t) = 2 atanh(s) with s = t / (2 + t) in [0, 1/3], where atanh(s)/s is a
// degree-4 polynomial in s^2 (fitted for minimal relative error). No threshold is needed: for large x the
// log1p term vanishes below x's last bit. Replaces hwy::Log1p(Exp(x)): measured in the scan's prologue, the
// softplus and z gate went from a quarter of the WASM kernel's time to ... (see selective_scan.cc).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Softplus(D d, V x) {
  const V t = FastExp(d, hn::Neg(hn::Abs(x)));
  const V s = hn::Div(t, hn::Add(hn::Set(d, 2.0f), t));
  const V w = hn::Mul(s, s);
  V p = hn::Set(d, 0.1408916711807251f);
  p = Madd(p, w, hn::Set(d, 0.13980302214622498f));
  p = Madd(p, w, hn::Set(d, 0.20012454688549042f));
  p = Madd(p, w, hn::Set(d, 0.3333315849304199f));
  p = Madd(p, w, hn::Set(d, 1.0f));
  const V result = Madd(hn::Add(s, s), p, hn::Max(x, hn::Zero(d)));
  return hn::IfThenElse(hn::IsNaN(x), x, result);
}

// silu(x) = x * sigmoid(x) = x / (1 + 2^(-x log2 e)).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Silu(D d, V x) {
  return hn::Div(x, hn::Add(hn::Set(d, 1.0f), FastExp2<true, true>(d, hn::Mul(x, hn::Set(d, -kLog2E)))));
}

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#endif  // LONGSEQ_CPU_SIMD_MATH_INL_H_
