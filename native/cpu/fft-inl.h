// Real FFTs of power-of-two sizes, `lanes` independent signals at once (Highway per-target header: include after
// foreach_target.h).
//
// The convolutions transform many channels of the same length, so each SIMD lane carries its own channel and
// the FFT itself is written as scalar code on vectors: every stage vectorises fully, with no shuffles, and
// twiddles are scalars broadcast to all lanes. Arrays hold complex element i of every lane at
// re[i * lanes .. + lanes) and im[i * lanes .. + lanes).
//
// The complex FFT is a radix-4 Stockham autosort (one radix-2 stage when log2 size is odd): out of place,
// ping-ponging between two buffers, natural order in and out.

#if defined(LONGSEQ_CPU_FFT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LONGSEQ_CPU_FFT_INL_H_
#undef LONGSEQ_CPU_FFT_INL_H_
#else
#define LONGSEQ_CPU_FFT_INL_H_
#endif

#include <stdint.h>
#include <string.h>

#include <utility>

#include "cpu/fft.h"
#include "hwy/highway.h"
#include "cpu/simd_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// A pair of complex vectors.
template <class V>
struct Cplx {
  V re, im;
};

template <class D, class V = hn::Vec<D>>
HWY_INLINE Cplx<V> LoadC(D d, const float* re, const float* im, int64_t offset) {
  return {hn::Load(d, re + offset), hn::Load(d, im + offset)};
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE void StoreC(D d, Cplx<V> z, float* re, float* im, int64_t offset) {
  hn::Store(z.re, d, re + offset);
  hn::Store(z.im, d, im + offset);
}

// (wr + i wi) z
template <class V>
HWY_INLINE Cplx<V> MulC(V wr, V wi, Cplx<V> z) {
  return {Nmadd(wi, z.im, hn::Mul(wr, z.re)), Madd(wi, z.re, hn::Mul(wr, z.im))};
}

// One radix-4 stage: sequences of length n >= 4 at stride s (in elements of `width` floats: width / lanes transforms
// side by side, which share the twiddles). kInverse conjugates the twiddles.
template <bool kInverse, class D>
HWY_INLINE void Radix4Stage(D d, const FftPlan& plan, int64_t n, int64_t s, int64_t width, const float* xr, const float* xi,
                            float* yr, float* yi) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t quarter = n / 4;
  const int64_t step = plan.m / n;  // w_n^p = w_m^(p * step)
  const float sign = kInverse ? -1.0f : 1.0f;
  for (int64_t p = 0; p < quarter; ++p) {
    const V w1r = hn::Set(d, plan.w_re[p * step]), w1i = hn::Set(d, sign * plan.w_im[p * step]);
    const V w2r = hn::Set(d, plan.w_re[2 * p * step]), w2i = hn::Set(d, sign * plan.w_im[2 * p * step]);
    const V w3r = hn::Set(d, plan.w_re[3 * p * step]), w3i = hn::Set(d, sign * plan.w_im[3 * p * step]);
    const float* a_re = xr + s * p * width;
    const float* a_im = xi + s * p * width;
    const int64_t to_b = s * quarter * width;
    float* y_re = yr + s * 4 * p * width;
    float* y_im = yi + s * 4 * p * width;
    const int64_t to_y = s * width;
    for (int64_t q = 0; q < s * width; q += lanes) {
      const Cplx<V> a = LoadC(d, a_re, a_im, q);
      const Cplx<V> b = LoadC(d, a_re, a_im, q + to_b);
      const Cplx<V> c = LoadC(d, a_re, a_im, q + 2 * to_b);
      const Cplx<V> e = LoadC(d, a_re, a_im, q + 3 * to_b);
      const Cplx<V> apc = {hn::Add(a.re, c.re), hn::Add(a.im, c.im)};
      const Cplx<V> amc = {hn::Sub(a.re, c.re), hn::Sub(a.im, c.im)};
      const Cplx<V> bpe = {hn::Add(b.re, e.re), hn::Add(b.im, e.im)};
      const Cplx<V> bme = {hn::Sub(b.re, e.re), hn::Sub(b.im, e.im)};
      // Forward (w = e^-2 pi i / n, w^(n/4) = -i): outputs 1 and 3 are (a - c) -/+ i (b - e); inverse: +/-.
      const Cplx<V> minus_i = {hn::Add(amc.re, bme.im), hn::Sub(amc.im, bme.re)};  // amc - i bme
      const Cplx<V> plus_i = {hn::Sub(amc.re, bme.im), hn::Add(amc.im, bme.re)};   // amc + i bme
      StoreC(d, Cplx<V>{hn::Add(apc.re, bpe.re), hn::Add(apc.im, bpe.im)}, y_re, y_im, q);
      StoreC(d, MulC(w1r, w1i, kInverse ? plus_i : minus_i), y_re, y_im, q + to_y);
      StoreC(d, MulC(w2r, w2i, Cplx<V>{hn::Sub(apc.re, bpe.re), hn::Sub(apc.im, bpe.im)}), y_re, y_im, q + 2 * to_y);
      StoreC(d, MulC(w3r, w3i, kInverse ? minus_i : plus_i), y_re, y_im, q + 3 * to_y);
    }
  }
}

// The last stage when log2 m is odd: sequences of length 2 at stride s, no twiddles.
template <class D>
HWY_INLINE void Radix2Stage(D d, int64_t s, int64_t width, const float* xr, const float* xi, float* yr, float* yi) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t half = s * width;
  for (int64_t q = 0; q < half; q += lanes) {
    const Cplx<V> a = LoadC(d, xr, xi, q);
    const Cplx<V> b = LoadC(d, xr, xi, q + half);
    StoreC(d, Cplx<V>{hn::Add(a.re, b.re), hn::Add(a.im, b.im)}, yr, yi, q);
    StoreC(d, Cplx<V>{hn::Sub(a.re, b.re), hn::Sub(a.im, b.im)}, yr, yi, q + half);
  }
}

// Radix-4 passes for complex FFTs of size plan.m on (re, im), elements `width` floats apart (width / lanes
// transforms side by side), using (work_re, work_im) as the other buffer; unnormalised. On return re/im point at
// the result and work_re/work_im at the free buffer.
template <bool kInverse, class D>
HWY_INLINE void StockhamFft(D d, const FftPlan& plan, int64_t width, float*& re, float*& im, float*& work_re, float*& work_im) {
  int64_t n = plan.m, s = 1;
  for (; n >= 4; n /= 4, s *= 4) {
    Radix4Stage<kInverse>(d, plan, n, s, width, re, im, work_re, work_im);
    std::swap(re, work_re);
    std::swap(im, work_im);
  }
  if (n == 2) {
    Radix2Stage(d, s, width, re, im, work_re, work_im);
    std::swap(re, work_re);
    std::swap(im, work_im);
  }
}

// Complex FFT of size plan.m, natural order in and out. From FourStepMin(lanes) on it runs as the four-step
// decomposition m = m1 x m2, element j = j1 m2 + j2: m2 FFTs of size m1 down the columns (gathered into
// `local`, which stays in L1/L2, FourStepColumnGroup of them side by side), a twiddle w_m^(j2 k1), then m1 FFTs
// of size m2 along the rows, written out to X[k1 + m1 k2]. That is two passes over the data where the radix-4
// passes alone make log4(m) of them through L2, L3 or DRAM. `local` holds 4 FourStepBufferFloats.
// A convolution's signals are zero-padded to twice their length and only its first half is read back, so the
// four-step takes `nonzero`: input elements from there on are zero and are not read; and `needed`: output elements
// from there on are not written. The plain path reads and writes everything (the zeros must be in memory).
template <bool kInverse, class D>
HWY_INLINE void ComplexFft(D d, const FftPlan& plan, float*& re, float*& im, float*& work_re, float*& work_im,
                           float* local, int64_t nonzero, int64_t needed) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  if (!UsesFourStep(plan, lanes)) return StockhamFft<kInverse>(d, plan, lanes, re, im, work_re, work_im);
  const FftPlan& cols = *plan.cols;
  const FftPlan& rows = *plan.rows;
  const int64_t m1 = cols.m, m2 = rows.m, group = FourStepColumnGroup(lanes, m2), width = group * lanes;
  const int64_t buffer = FourStepBufferFloats(plan, lanes);
  float* lre = local;
  float* lim = lre + buffer;
  float* lwre = lim + buffer;
  float* lwim = lwre + buffer;
  const float sign = kInverse ? -1.0f : 1.0f;
  // Rows j1 >= nonzero_rows of the m1 x m2 input are zero (at its end, those of row nonzero_rows - 1 are in memory).
  const int64_t nonzero_rows = (nonzero + m2 - 1) / m2 < m1 ? (nonzero + m2 - 1) / m2 : m1;
  for (int64_t j2 = 0; j2 < m2; j2 += group) {  // columns j2 .. j2 + group - 1, element j1 at j1 width
    for (int64_t j1 = 0; j1 < nonzero_rows; ++j1) {
      for (int64_t g = 0; g < width; g += lanes) StoreC(d, LoadC(d, re, im, (j1 * m2 + j2) * lanes + g), lre, lim, j1 * width + g);
    }
    for (int64_t j1 = nonzero_rows; j1 < m1; ++j1) {
      for (int64_t g = 0; g < width; g += lanes) StoreC(d, Cplx<V>{hn::Zero(d), hn::Zero(d)}, lre, lim, j1 * width + g);
    }
    float *a = lre, *b = lim, *c = lwre, *e = lwim;
    StockhamFft<kInverse>(d, cols, width, a, b, c, e);
    for (int64_t k1 = 0; k1 < m1; ++k1) {
      for (int64_t g = 0; g < group; ++g) {
        const int64_t w = (j2 + g) * k1;  // < m1 m2 = m
        const Cplx<V> z = MulC(hn::Set(d, plan.w_re[w]), hn::Set(d, sign * plan.w_im[w]), LoadC(d, a, b, k1 * width + g * lanes));
        StoreC(d, z, re, im, (k1 * m2 + j2 + g) * lanes);
      }
    }
  }
  for (int64_t k1 = 0; k1 < m1; ++k1) {
    memcpy(lre, re + k1 * m2 * lanes, sizeof(float) * m2 * lanes);
    memcpy(lim, im + k1 * m2 * lanes, sizeof(float) * m2 * lanes);
    float *a = lre, *b = lim, *c = lwre, *e = lwim;
    StockhamFft<kInverse>(d, rows, lanes, a, b, c, e);
    const int64_t written = k1 < needed ? (needed - k1 + m1 - 1) / m1 : 0;  // the k2 with k1 + m1 k2 < needed
    for (int64_t k2 = 0; k2 < (written < m2 ? written : m2); ++k2) {
      StoreC(d, LoadC(d, a, b, k2 * lanes), work_re, work_im, (k1 + m1 * k2) * lanes);
    }
  }
  std::swap(re, work_re);
  std::swap(im, work_im);
}

// Real forward FFT of size plan.n (for spectra kept for later: the convolution itself goes through
// MultiplySpectrum). In: the signal packed as z[j] = x[2j] + i x[2j+1] in (re, im), m elements, zero from
// `nonzero` on; (work_re, work_im) is the other buffer of the complex FFT. Out: X[k] for k = 0..m in (out_re,
// out_im).
template <class D>
HWY_INLINE void RealForward(D d, const FftPlan& plan, float* re, float* im, float* work_re, float* work_im,
                            float* local, int64_t nonzero, float* out_re, float* out_im) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t m = plan.m;
  ComplexFft<false>(d, plan, re, im, work_re, work_im, local, nonzero, m);
  // With A = Z[k], B = conj(Z[m - k]) (Z[m] = Z[0]): E = (A + B) / 2 is the even samples' spectrum,
  // O = (A - B) / 2i the odd samples'; X[k] = E + r^k O with r = e^(-2 pi i / n).
  const V half = hn::Set(d, 0.5f);
  for (int64_t k = 0; k <= m; ++k) {
    const int64_t kk = k == m ? 0 : k;
    const int64_t mk = k == 0 ? 0 : m - k;
    const Cplx<V> a = LoadC(d, re, im, kk * lanes);
    const Cplx<V> z = LoadC(d, re, im, mk * lanes);
    const Cplx<V> e = {hn::Mul(half, hn::Add(a.re, z.re)), hn::Mul(half, hn::Sub(a.im, z.im))};
    // (A - B) / 2i = (Im(A - B) - i Re(A - B)) / 2, with A - B = (a.re - z.re) + i (a.im + z.im)
    const Cplx<V> o = {hn::Mul(half, hn::Add(a.im, z.im)), hn::Mul(half, hn::Sub(z.re, a.re))};
    const Cplx<V> ro = MulC(hn::Set(d, plan.r_re[k]), hn::Set(d, plan.r_im[k]), o);
    // The output may be a plan's spectrum in caller memory: unaligned stores.
    hn::StoreU(hn::Add(e.re, ro.re), d, out_re + k * lanes);
    hn::StoreU(hn::Add(e.im, ro.im), d, out_im + k * lanes);
  }
}

// The middle of a real convolution in one pass: Z is the complex FFT of a packed real signal x (as RealForward
// leaves it before unpacking), K[0..m] a real spectrum (RealForward's output). Replaces Z, in place, by the
// packed spectrum whose inverse complex FFT is m times the packed x * k (circular). Each k is done with its
// partner m - k: unpack X[k], X[m - k] from Z[k], Z[m - k], multiply by K, and repack, which saves two passes
// over the data against unpack, multiply and repack one after the other.
template <class D>
HWY_INLINE void MultiplySpectrum(D d, const FftPlan& plan, float* re, float* im, const float* kr, const float* ki) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t m = plan.m;
  const V half = hn::Set(d, 0.5f);
  // X[k] = E + r^k O with E = (A + conj B) / 2, O = (A - conj B) / 2i for A = Z[k], B = Z[m - k] (Z[m] = Z[0]).
  auto unpack = [&](Cplx<V> a, Cplx<V> b, int64_t k) {
    const Cplx<V> e = {hn::Mul(half, hn::Add(a.re, b.re)), hn::Mul(half, hn::Sub(a.im, b.im))};
    const Cplx<V> o = {hn::Mul(half, hn::Add(a.im, b.im)), hn::Mul(half, hn::Sub(b.re, a.re))};
    const Cplx<V> ro = MulC(hn::Set(d, plan.r_re[k]), hn::Set(d, plan.r_im[k]), o);
    return Cplx<V>{hn::Add(e.re, ro.re), hn::Add(e.im, ro.im)};
  };
  // Z[k] = E + i O with E = (Y[k] + conj Y[m - k]) / 2, O = (Y[k] - conj Y[m - k]) conj(r^k) / 2.
  auto repack = [&](Cplx<V> y, Cplx<V> partner, int64_t k) {
    const Cplx<V> e = {hn::Mul(half, hn::Add(y.re, partner.re)), hn::Mul(half, hn::Sub(y.im, partner.im))};
    const Cplx<V> diff = {hn::Mul(half, hn::Sub(y.re, partner.re)), hn::Mul(half, hn::Add(y.im, partner.im))};
    const Cplx<V> o = MulC(hn::Set(d, plan.r_re[k]), hn::Set(d, -plan.r_im[k]), diff);
    return Cplx<V>{hn::Sub(e.re, o.im), hn::Add(e.im, o.re)};
  };
  auto times_k = [&](Cplx<V> x, int64_t k) {
    return MulC(hn::LoadU(d, kr + k * lanes), hn::LoadU(d, ki + k * lanes), x);  // kr, ki: maybe caller memory
  };
  // k = 0 pairs with k = m (both from Z[0]).
  {
    const Cplx<V> z0 = LoadC(d, re, im, 0);
    const Cplx<V> y0 = times_k(unpack(z0, z0, 0), 0);
    const Cplx<V> ym = times_k(unpack(z0, z0, m), m);
    StoreC(d, repack(y0, ym, 0), re, im, 0);
  }
  for (int64_t k = 1; 2 * k <= m; ++k) {
    const int64_t partner = m - k;
    const Cplx<V> a = LoadC(d, re, im, k * lanes);
    const Cplx<V> b = LoadC(d, re, im, partner * lanes);
    const Cplx<V> yk = times_k(unpack(a, b, k), k);
    const Cplx<V> yp = times_k(unpack(b, a, partner), partner);
    StoreC(d, repack(yk, yp, k), re, im, k * lanes);
    if (partner != k) StoreC(d, repack(yp, yk, partner), re, im, partner * lanes);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#endif  // LONGSEQ_CPU_FFT_INL_H_
