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

// From FourStepMin(lanes) on (UsesFourStep), the transforms of size m run as the four-step decomposition
// m = m1 x m2, element j = j1 m2 + j2 of an m1 x m2 layout: m2 FFTs of size m1 down the columns, a twiddle
// w_m^(j2 k1), then m1 FFTs of size m2 along the rows, which give X[k1 + m1 k2]. That is two passes over the data
// where the radix-4 passes alone make log4(m) of them through L2, L3 or DRAM. A convolution's signals are
// zero-padded to twice their length and only the first half of the result is read, so the passes skip the rows
// that are all zero on the way in and that are not read on the way out.

// The column pass, in place: for each group of FourStepColumnGroup columns (gathered into `local`, which stays in
// L1/L2), the FFTs of size m1 down them, rows >= rows_in taken as zero without being read, then with kTwiddle the
// twiddle w_m^(±j2 k1); rows < rows_out are written back.
template <bool kInverse, bool kTwiddle, class D>
HWY_INLINE void FourStepColumns(D d, const FftPlan& plan, float* re, float* im, float* local, int64_t rows_in,
                                int64_t rows_out) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t m1 = plan.cols->m, m2 = plan.rows->m, group = FourStepColumnGroup(lanes, m2), width = group * lanes;
  const int64_t buffer = FourStepBufferFloats(plan, lanes);
  float* lre = local;
  float* lim = lre + buffer;
  float* lwre = lim + buffer;
  float* lwim = lwre + buffer;
  const float sign = kInverse ? -1.0f : 1.0f;
  for (int64_t j2 = 0; j2 < m2; j2 += group) {  // columns j2 .. j2 + group - 1, element j1 at j1 width
    for (int64_t j1 = 0; j1 < rows_in; ++j1) {
      for (int64_t g = 0; g < width; g += lanes) StoreC(d, LoadC(d, re, im, (j1 * m2 + j2) * lanes + g), lre, lim, j1 * width + g);
    }
    for (int64_t j1 = rows_in; j1 < m1; ++j1) {
      for (int64_t g = 0; g < width; g += lanes) StoreC(d, Cplx<V>{hn::Zero(d), hn::Zero(d)}, lre, lim, j1 * width + g);
    }
    float *a = lre, *b = lim, *c = lwre, *e = lwim;
    StockhamFft<kInverse>(d, *plan.cols, width, a, b, c, e);
    for (int64_t k1 = 0; k1 < rows_out; ++k1) {
      for (int64_t g = 0; g < group; ++g) {
        Cplx<V> z = LoadC(d, a, b, k1 * width + g * lanes);
        if (kTwiddle) {
          const int64_t w = (j2 + g) * k1;  // < m1 m2 = m
          z = MulC(hn::Set(d, plan.w_re[w]), hn::Set(d, sign * plan.w_im[w]), z);
        }
        StoreC(d, z, re, im, (k1 * m2 + j2 + g) * lanes);
      }
    }
  }
}

// Where a real spectrum keeps X[k] (k = 0..m): in natural order, except for plans the four-step serves
// (UsesFourStep), whose spectra are kept in the order the four-step's rows produce them: X[k1 + m1 k2] at
// k1 m2 + k2 for k < m, X[m] at m. So FourStepConvolve reads each row's part in one run (from strided reads, a
// plan's spectrum in 4 KiB pages took 1.15x as long at L = 2^17). Callers pass each X[k]'s position with k.

// X[k] of a real signal from its packed complex spectrum: with A = Z[k], B = conj(Z[m - k]) (Z[m] = Z[0]),
// E = (A + B) / 2 is the even samples' spectrum, O = (A - B) / 2i the odd samples'; X[k] = E + r^k O with
// r = e^(-2 pi i / n). `b` is Z[m - k] itself.
template <class D, class V = hn::Vec<D>>
HWY_INLINE Cplx<V> UnpackReal(D d, const FftPlan& plan, Cplx<V> a, Cplx<V> b, int64_t k) {
  const V half = hn::Set(d, 0.5f);
  const Cplx<V> e = {hn::Mul(half, hn::Add(a.re, b.re)), hn::Mul(half, hn::Sub(a.im, b.im))};
  // (A - B) / 2i = (Im(A - B) - i Re(A - B)) / 2, with A - B = (a.re - b.re) + i (a.im + b.im)
  const Cplx<V> o = {hn::Mul(half, hn::Add(a.im, b.im)), hn::Mul(half, hn::Sub(b.re, a.re))};
  const Cplx<V> ro = MulC(hn::Set(d, plan.r_re[k]), hn::Set(d, plan.r_im[k]), o);
  return Cplx<V>{hn::Add(e.re, ro.re), hn::Add(e.im, ro.im)};
}

// The middle of a real convolution, element by element: Z is the complex FFT of a packed real signal x, K[0..m] a
// real spectrum (RealSpectrum's output). Each Z[k] is replaced, with its partner Z[m - k], by the packed spectrum
// whose inverse complex FFT is m times the packed x * k (circular): unpack X[k], X[m - k] from Z[k], Z[m - k],
// multiply by K, and repack, in one step.
template <class D>
class SpectrumProduct {
 public:
  using V = hn::Vec<D>;
  SpectrumProduct(D d, const FftPlan& plan, const float* kr, const float* ki)
      : d_(d), plan_(plan), kr_(kr), ki_(ki), lanes_(static_cast<int64_t>(hn::Lanes(d))) {}

  // Z[k] in a and Z[p] in b, p = m - k, with K[k] and K[p] at positions at_k and at_p of the spectrum; k = p
  // (= m / 2) and k = 0 (p = m: b is Z[0] too, and left as it was) are allowed, a and b then the same element.
  void Pair(Cplx<V>& a, Cplx<V>& b, int64_t k, int64_t p, int64_t at_k, int64_t at_p) const {
    const Cplx<V> yk = TimesK(UnpackReal(d_, plan_, a, b, k), at_k);
    const Cplx<V> yp = TimesK(UnpackReal(d_, plan_, b, a, p), at_p);
    a = Repack(yk, yp, k);
    if (k != 0) b = Repack(yp, yk, p);
  }

 private:
  // Z[k] = E + i O with E = (Y[k] + conj Y[m - k]) / 2, O = (Y[k] - conj Y[m - k]) conj(r^k) / 2.
  Cplx<V> Repack(Cplx<V> y, Cplx<V> partner, int64_t k) const {
    const V half = hn::Set(d_, 0.5f);
    const Cplx<V> e = {hn::Mul(half, hn::Add(y.re, partner.re)), hn::Mul(half, hn::Sub(y.im, partner.im))};
    const Cplx<V> diff = {hn::Mul(half, hn::Sub(y.re, partner.re)), hn::Mul(half, hn::Add(y.im, partner.im))};
    const Cplx<V> o = MulC(hn::Set(d_, plan_.r_re[k]), hn::Set(d_, -plan_.r_im[k]), diff);
    return Cplx<V>{hn::Sub(e.re, o.im), hn::Add(e.im, o.re)};
  }
  Cplx<V> TimesK(Cplx<V> x, int64_t at) const {
    return MulC(hn::LoadU(d_, kr_ + at * lanes_), hn::LoadU(d_, ki_ + at * lanes_), x);  // maybe caller memory
  }

  D d_;
  const FftPlan& plan_;
  const float* kr_;
  const float* ki_;
  int64_t lanes_;
};

// The rows of the four-step layout after FourStepColumns, FFT'd along the row in `local` (element k2 of row k1:
// Z[k1 + m1 k2]) two at a time: row k1 = 0 .. m1 / 2 with row (m1 - k1) mod m1, where the partners Z[m - k] of its
// elements lie (rows 0 and m1 / 2 are their own partners). pair(a, b, k, p, at_k, at_p) sees every element with
// its partner once (Z[0] with p = m, as b = a), with their positions in a four-step spectrum; kRows: it may change
// both, and then row(re, im, work_re, work_im, k1) gets each row and a free pair of work buffers (without kRows,
// `row` is not called and the rows are only read). `local` holds 6 FourStepBufferFloats.
template <bool kRows, class D, class PairFn, class RowFn>
HWY_INLINE void FourStepRowPairs(D d, const FftPlan& plan, const float* re, const float* im, float* local,
                                 PairFn pair, RowFn row) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t m = plan.m, m1 = plan.cols->m, m2 = plan.rows->m, length = m2 * lanes;
  const int64_t buffer = FourStepBufferFloats(plan, lanes);  // >= length
  for (int64_t k1 = 0; 2 * k1 <= m1; ++k1) {
    const int64_t k1b = k1 == 0 ? 0 : m1 - k1;
    float *are = local, *aim = local + buffer, *bre = local + 2 * buffer, *bim = local + 3 * buffer;
    float *wre = local + 4 * buffer, *wim = local + 5 * buffer;
    memcpy(are, re + k1 * length, sizeof(float) * length);
    memcpy(aim, im + k1 * length, sizeof(float) * length);
    StockhamFft<false>(d, *plan.rows, lanes, are, aim, wre, wim);
    if (k1b != k1) {
      memcpy(bre, re + k1b * length, sizeof(float) * length);
      memcpy(bim, im + k1b * length, sizeof(float) * length);
      StockhamFft<false>(d, *plan.rows, lanes, bre, bim, wre, wim);
    } else {
      bre = are;
      bim = aim;
    }
    for (int64_t k2 = 0; k2 < m2; ++k2) {
      const int64_t k = k1 + m1 * k2, p = m - k;
      // p = k1b + m1 p2: m1 (m2 - k2) in row 0, else (m1 - k1) + m1 (m2 - 1 - k2); Z[m] is Z[0]
      const int64_t p2 = k == 0 ? 0 : k1 == 0 ? m2 - k2 : m2 - 1 - k2;
      if (k1b == k1 && k != 0 && p < k) continue;  // a row paired with itself: each pair once
      Cplx<V> a = LoadC(d, are, aim, k2 * lanes);
      Cplx<V> b = LoadC(d, bre, bim, p2 * lanes);
      pair(a, b, k, p, k1 * m2 + k2, k == 0 ? m : k1b * m2 + p2);
      if constexpr (kRows) {
        if (p != k && k != 0) StoreC(d, b, bre, bim, p2 * lanes);
        StoreC(d, a, are, aim, k2 * lanes);
      }
    }
    if constexpr (kRows) {
      row(are, aim, wre, wim, k1);
      if (k1b != k1) row(bre, bim, wre, wim, k1b);
    }
  }
}

// Real forward FFT of size plan.n, for a kernel's spectrum. In: the signal packed as z[j] = x[2j] + i x[2j+1] in
// (re, im), m elements, zero from `nonzero` on (the plain path reads them all; the four-step, to
// FftInputExtent); (work_re, work_im) is the plain path's second buffer, `local` the four-step's (6
// FourStepBufferFloats). Out: X[k] for k = 0..m in (out_re, out_im), in natural order or a four-step plan's.
template <class D>
HWY_INLINE void RealSpectrum(D d, const FftPlan& plan, float* re, float* im, float* work_re, float* work_im,
                             float* local, int64_t nonzero, float* out_re, float* out_im) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t m = plan.m;
  // The output may be a plan's spectrum in caller memory: unaligned stores.
  auto store = [&](Cplx<V> x, int64_t at) {
    hn::StoreU(x.re, d, out_re + at * lanes);
    hn::StoreU(x.im, d, out_im + at * lanes);
  };
  auto pair = [&](Cplx<V>& a, Cplx<V>& b, int64_t k, int64_t p, int64_t at_k, int64_t at_p) {
    store(UnpackReal(d, plan, a, b, k), at_k);
    store(UnpackReal(d, plan, b, a, p), at_p);
  };
  if (UsesFourStep(plan, lanes)) {
    FourStepColumns<false, true>(d, plan, re, im, local, FourStepRows(plan, nonzero), plan.cols->m);
    FourStepRowPairs<false>(d, plan, re, im, local, pair, nullptr);
    return;
  }
  StockhamFft<false>(d, plan, lanes, re, im, work_re, work_im);
  for (int64_t k = 0; 2 * k <= m; ++k) {
    Cplx<V> a = LoadC(d, re, im, k * lanes);
    Cplx<V> b = LoadC(d, re, im, (k == 0 ? 0 : m - k) * lanes);
    pair(a, b, k, m - k, k, m - k);
  }
}

// SpectrumProduct over the whole of Z, in natural order and in place (the plain path's convolution).
template <class D>
HWY_INLINE void MultiplySpectrum(D d, const FftPlan& plan, float* re, float* im, const float* kr, const float* ki) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t m = plan.m;
  const SpectrumProduct<D> product(d, plan, kr, ki);
  for (int64_t k = 0; 2 * k <= m; ++k) {
    const int64_t partner = m - k, at = k == 0 ? 0 : partner;
    Cplx<V> a = LoadC(d, re, im, k * lanes);
    Cplx<V> b = LoadC(d, re, im, at * lanes);
    product.Pair(a, b, k, partner, k, partner);
    if (partner != k && k != 0) StoreC(d, b, re, im, at * lanes);
    StoreC(d, a, re, im, k * lanes);
  }
}

// A whole convolution's transforms on the four-step layout (UsesFourStep plans), in place: in, the packed signal in
// natural order, zero from element `packed` on (in memory to FftInputExtent); out, its circular convolution with K
// (times m, packed) in natural order up to element `packed`, not beyond. The spectrum is never laid out in natural
// order: each row of the layout goes through its forward FFT along the row, the product with K (in the four-step
// order) and the inverse FFT along the row while it is in `local`, since the inverse transform starts with FFTs
// along the same rows when its index k = k1 + m1 k2 is split as the forward's output is. With n = n2 + m2 n1,
// x[n] = sum over k1 of w_m1^(-n1 k1) w_m^(-n2 k1) (sum over k2 of w_m2^(-n2 k2) Y[k1 + m1 k2]).
// That is three passes over the data (columns, rows, columns) where a forward four-step FFT, the product in natural
// order and the inverse FFT make five. `local` holds 6 FourStepBufferFloats.
template <class D>
HWY_INLINE void FourStepConvolve(D d, const FftPlan& plan, float* re, float* im, const float* kr, const float* ki,
                                 float* local, int64_t packed) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t m2 = plan.rows->m;
  FourStepColumns<false, true>(d, plan, re, im, local, FourStepRows(plan, packed), plan.cols->m);
  const SpectrumProduct<D> product(d, plan, kr, ki);
  auto pair = [&](Cplx<V>& a, Cplx<V>& b, int64_t k, int64_t p, int64_t at_k, int64_t at_p) {
    product.Pair(a, b, k, p, at_k, at_p);
  };
  // Row k1: the inverse FFT along it, the twiddle w_m^(-n2 k1), and back in place.
  auto row = [&](float* a, float* b, float*& work_re, float*& work_im, int64_t k1) {
    StockhamFft<true>(d, *plan.rows, lanes, a, b, work_re, work_im);
    for (int64_t n2 = 0; n2 < m2; ++n2) {
      const int64_t w = n2 * k1;  // < m
      const Cplx<V> z = MulC(hn::Set(d, plan.w_re[w]), hn::Set(d, -plan.w_im[w]), LoadC(d, a, b, n2 * lanes));
      StoreC(d, z, re, im, (k1 * m2 + n2) * lanes);
    }
  };
  FourStepRowPairs<true>(d, plan, re, im, local, pair, row);
  FourStepColumns<true, false>(d, plan, re, im, local, plan.cols->m, FourStepRows(plan, packed));
}

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#endif  // LONGSEQ_CPU_FFT_INL_H_
