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

// What a caller of FastExp2 knows about x, from the least to the most: the fewer clamps, the fewer vector ops
// (and, in WASM, where V8 has 15 vector registers, the fewer spilled constants).
enum class ExpDomain {
  kAny,       // any x
  kDecay,     // x <= 0 (a decay): no upper clamp
  kInRange,   // -126 <= x <= 127 is known: no clamp
};

// 2^x for float32 lanes. x is clamped to [-126, 127]: below, the result is 2^-126 (the smallest normal,
// ~1.2e-38, not 0), above 2^127; in between the relative error is at most 1.9e-7. A NaN x gives an
// unspecified value: callers that must propagate NaN handle it where it enters (see selective_scan.cc).
// kDomain drops the clamps that what the caller knows makes idle (outside its promise the result is garbage).
// kShortChain evaluates the polynomial in Estrin's scheme, a chain of three dependent steps instead of five for
// one more multiply: faster where the exp's latency shows (SiLU over a row, 12% in WASM at B1 D1536 L4096), slower
// where many independent exps already keep the units busy (the selective scan's, 5% on AVX-512), so only SiLU
// takes it. This form (n from a rounding, 2^n scaling the polynomial's f-part, no constant 1, no clamp where the
// range is known) took the WASM selective scan (B1 D1536 N16 L4096, V8 in Node 20, SIMD128) from 84 to 75 ms
// against the former (n from adding and subtracting 1.5 * 2^23, 2^n added to the exponent field, both clamps);
// native was unchanged.
template <ExpDomain kDomain = ExpDomain::kAny, bool kShortChain = false, class D, class V = hn::Vec<D>>
HWY_INLINE V FastExp2(D d, V x) {
  const hn::RebindToSigned<D> di;
  if (kDomain != ExpDomain::kInRange) x = hn::Max(x, hn::Set(d, -126.0f));
  if (kDomain == ExpDomain::kAny) x = hn::Min(x, hn::Set(d, 127.0f));
  // n = round(x), f = x - n in [-0.5, 0.5] (exact), and 2^n without a float-to-int conversion: n + 1.5 * 2^23
  // + 127 is exact and leaves the biased exponent n + 127 (in [1, 254] after the clamps) in its low mantissa
  // bits, which a shift by 23 moves into the exponent field (dropping the magic number's own high bits).
  const V n = hn::Round(x);
  const V f = hn::Sub(x, n);
  const V scale = hn::BitCast(d, hn::ShiftLeft<23>(hn::BitCast(di, hn::Add(n, hn::Set(d, 12583039.0f)))));
  // 2^f = 1 + f q(f) on [-0.5, 0.5], q of degree 4 (coefficients fitted for minimal max relative error), and
  // 2^x = 2^n + (2^n f) q(f): the 1 is never a constant of its own (one vector register fewer in WASM's 15).
  const V c5 = hn::Set(d, 0.001326472731307149f), c4 = hn::Set(d, 0.009671512991189957f);
  const V c3 = hn::Set(d, 0.05550733581185341f), c2 = hn::Set(d, 0.24022242426872253f);
  const V c1 = hn::Set(d, 0.6931470036506653f);
  V q;
  if (kShortChain) {
    const V f2 = hn::Mul(f, f);
    q = Madd(Madd(c5, f2, Madd(c4, f, c3)), f2, Madd(c2, f, c1));
  } else {
    q = Madd(Madd(Madd(Madd(c5, f, c4), f, c3), f, c2), f, c1);
  }
  return Madd(hn::Mul(scale, f), q, scale);
}

// e^x with FastExp2's range and error.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V FastExp(D d, V x) {
  return FastExp2(d, hn::Mul(x, hn::Set(d, kLog2E)));
}

// softplus(x) = log(1 + e^x), to within ~4e-7 relative, for any x; NaN stays NaN. Computed as
// max(x, 0) + log1p(e^-|x|), and log1p(t) = 2 atanh(s) with s = t / (2 + t) in [0, 1/3], where atanh(s)/s is a
// degree-4 polynomial in s^2 (fitted for minimal relative error). No threshold is needed: for large x the
// log1p term vanishes below x's last bit. Replaces hwy::Log1p(Exp(x)) in the scan's prologue.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Softplus(D d, V x) {
  const V t = FastExp2<ExpDomain::kDecay>(d, hn::Mul(hn::Abs(x), hn::Set(d, -kLog2E)));
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
  const V e = FastExp2<ExpDomain::kAny, true>(d, hn::Mul(x, hn::Set(d, -kLog2E)));
  return hn::Div(x, hn::Add(hn::Set(d, 1.0f), e));
}

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#endif  // LONGSEQ_CPU_SIMD_MATH_INL_H_
