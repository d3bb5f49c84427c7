// Long causal convolution on the CPU: ls_fft_conv_cpu, ls_fft_conv_spectrum_cpu.
//
// FFT path: per group of `lanes` channels (one channel per SIMD lane, see fft-inl.h), the kernel's spectrum is
// computed (or loaded from a plan's spectrum) once and reused for every batch row; each row is transformed,
// multiplied, transformed back and gets the D term. FFT size: the smallest power of two >= L + Lk - 1.
// Direct path: time in the lanes, Lk taps per output (conv-inl.h). The crossover is at ChooseDirect.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/fft_conv.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "cpu/conv-inl.h"
#include "cpu/fft-inl.h"
#include "cpu/transpose-inl.h"

#ifndef LONGSEQ_CPU_FFT_CONV_ONCE
#define LONGSEQ_CPU_FFT_CONV_ONCE
#include <string.h>

#include "cpu/fft.h"
#include "cpu/fft_conv.h"
#include "cpu/scratch.h"
#include "cpu/status.h"
#include "cpu/thread_pool.h"
#include "longseq/longseq.h"

namespace ls {
// Above this much scratch per worker with full-width vectors, the FFT runs on 4-lane vectors instead (a
// quarter of the memory on AVX-512): L = 2^20 would otherwise take 400 MiB per worker.
constexpr int64_t kMaxFftScratchBytes = int64_t{256} << 20;
// Rows per direct-path task.
constexpr int64_t kDirectRowsPerTask = 8;
// Samples per tile when moving rows in and out of the FFT layout (fft_conv.cc, PackRows).
constexpr int64_t kPackTile = 128;
// Scratch floats of one FFT group: two ping-pong buffers and the kernel spectrum, (m + 1) x lanes complex each,
// and the four-step's local buffers (FourStepConvolve's six).
inline int64_t FftGroupScratchFloats(const FftPlan& plan, int64_t lanes) {
  int64_t local = 0;
  if (UsesFourStep(plan, lanes)) local = 6 * FourStepBufferFloats(plan, lanes);
  return 6 * (plan.m + 1) * lanes + local + 2 * lanes * kPackTile;
}
}  // namespace ls
#endif

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows move in and out of the [element][lane] layout a tile of kPackTile samples at a time, so a tile's
// destination lines stay in L1 until every lane of them is written. One row at a time instead rewrote each
// cache line of a 16 MiB buffer 16 times and was half the FFT path's time at L = 2^17.

// Splits x[0, count) (count even) into its even and odd samples.
HWY_INLINE void Deinterleave(const float* x, int64_t count, float* even, float* odd) {
  int64_t t = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::Full128<float> d4;
  for (; t + 8 <= count; t += 8) {
    const auto lo = hn::LoadU(d4, x + t), hi = hn::LoadU(d4, x + t + 4);
    hn::StoreU(hn::ConcatEven(d4, hi, lo), d4, even + t / 2);
    hn::StoreU(hn::ConcatOdd(d4, hi, lo), d4, odd + t / 2);
  }
#endif
  for (; t < count; t += 2) {
    even[t / 2] = x[t];
    odd[t / 2] = x[t + 1];
  }
}

// Packs rows[c][0, len) as z[j] = x[2j] + i x[2j+1] for c < count; zero past len up to element `extent` (what
// the FFT reads: FftInputExtent) and in lanes >= count. `tile` holds 2 lanes kPackTile / 2 floats.
template <class D>
HWY_INLINE void PackRows(D d, const float* rows, int64_t row_stride, int64_t count, int64_t len, int64_t extent,
                         float* re, float* im, float* tile) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t filled = (len + 1) / 2;  // elements holding samples
  if (count < lanes) {
    memset(re, 0, sizeof(float) * filled * lanes);
    memset(im, 0, sizeof(float) * filled * lanes);
  }
  memset(re + filled * lanes, 0, sizeof(float) * (extent - filled) * lanes);
  memset(im + filled * lanes, 0, sizeof(float) * (extent - filled) * lanes);
  const int64_t half_tile = kPackTile / 2;
  float* even = tile;
  float* odd = tile + lanes * half_tile;
  const int64_t whole = len & ~int64_t{1};
  for (int64_t t0 = 0; t0 < whole; t0 += kPackTile) {
    const int64_t n = whole - t0 < kPackTile ? whole - t0 : kPackTile;
    for (int64_t c = 0; c < count; ++c) Deinterleave(rows + c * row_stride + t0, n, even + c * half_tile, odd + c * half_tile);
    RowsToLanes(even, half_tile, count, n / 2, re + (t0 / 2) * lanes, lanes);
    RowsToLanes(odd, half_tile, count, n / 2, im + (t0 / 2) * lanes, lanes);
  }
  if (len & 1) {  // the last sample has no odd partner
    for (int64_t c = 0; c < lanes; ++c) {
      re[(filled - 1) * lanes + c] = c < count ? rows[c * row_stride + len - 1] : 0.0f;
      im[(filled - 1) * lanes + c] = 0.0f;
    }
  }
}

// The inverse of PackRows for the first len samples: y[c][t] = scale * x[t] + skip[c] * u[c][t].
template <class D>
HWY_INLINE void UnpackRows(D d, const float* re, const float* im, int64_t count, int64_t len, float scale,
                           const float* skip, const float* u, float* y, int64_t row_stride, float* tile) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t half_tile = kPackTile / 2;
  float* even = tile;
  float* odd = tile + lanes * half_tile;
  for (int64_t t0 = 0; t0 < len; t0 += kPackTile) {
    const int64_t n = len - t0 < kPackTile ? len - t0 : kPackTile;
    const int64_t pairs = (n + 1) / 2;
    LanesToRows(re + (t0 / 2) * lanes, lanes, count, pairs, even, half_tile);
    LanesToRows(im + (t0 / 2) * lanes, lanes, count, pairs, odd, half_tile);
    for (int64_t c = 0; c < count; ++c) {
      const float s = skip ? skip[c] : 0.0f;
      const float* uc = u + c * row_stride + t0;
      float* yc = y + c * row_stride + t0;
      const float* ec = even + c * half_tile;
      const float* oc = odd + c * half_tile;
      int64_t t = 0;
#if HWY_TARGET != HWY_SCALAR
      const hn::Full128<float> d4;
      const auto vs = hn::Set(d4, s), vscale = hn::Set(d4, scale);
      for (; t + 8 <= n; t += 8) {
        const auto e = hn::LoadU(d4, ec + t / 2), o = hn::LoadU(d4, oc + t / 2);
        hn::StoreU(Madd(vs, hn::LoadU(d4, uc + t), hn::Mul(vscale, hn::InterleaveLower(d4, e, o))), d4, yc + t);
        hn::StoreU(Madd(vs, hn::LoadU(d4, uc + t + 4), hn::Mul(vscale, hn::InterleaveUpper(d4, e, o))), d4, yc + t + 4);
      }
#endif
      for (; t < n; ++t) yc[t] = (t & 1 ? oc : ec)[t / 2] * scale + s * uc[t];
    }
  }
}

// The spectrum of k's rows [c0, c0 + count) into (kr, ki), (m + 1) x lanes each. a_*/b_* are work buffers.
template <class D>
HWY_INLINE void KernelSpectrum(D d, const FftPlan& plan, const float* k, int64_t kernel_len, int64_t count,
                               float* a_re, float* a_im, float* b_re, float* b_im, float* kr, float* ki,
                               float* local, float* tile) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t packed = (kernel_len + 1) / 2;
  PackRows(d, k, kernel_len, count, kernel_len, FftInputExtent(plan, lanes, packed), a_re, a_im, tile);
  RealSpectrum(d, plan, a_re, a_im, b_re, b_im, local, packed, kr, ki);
}

// FFT convolution of channels [c0, c0 + count) for every batch row.
template <class D>
HWY_INLINE void FftConvGroupT(D d, const ls_fft_conv_params& p, const FftPlan& plan, int64_t c0, int64_t count,
                              float* scratch) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t m = plan.m, L = p.seqlen, H = p.channels;
  const int64_t stride = (m + 1) * lanes;
  float* a_re = scratch;
  float* a_im = a_re + stride;
  float* b_re = a_im + stride;
  float* b_im = b_re + stride;
  float* tile = b_im + 3 * stride;  // past the kernel spectrum's two arrays
  float* local = tile + 2 * lanes * kPackTile;
  // A plan's spectrum is already in this group's layout (SpectrumGroupT): read it in place.
  const float* kr = p.spectrum ? p.spectrum + (c0 / lanes) * 2 * stride : b_im + stride;
  const float* ki = kr + stride;
  if (!p.spectrum) {
    KernelSpectrum(d, plan, p.k + c0 * p.kernel_len, p.kernel_len, count, a_re, a_im, b_re, b_im, b_im + stride,
                   b_im + 2 * stride, local, tile);
  }
  const float inverse_m = 1.0f / static_cast<float>(m);
  const int64_t packed = (L + 1) / 2;  // complex elements of a packed row: the nonzero input, and the output that
                                       // UnpackRows reads
  const int64_t extent = FftInputExtent(plan, lanes, packed);
  for (int64_t b = 0; b < p.batch; ++b) {
    if (Cancelled(p.cancel)) return;
    const float* u = p.u + (b * H + c0) * L;
    PackRows(d, u, L, count, L, extent, a_re, a_im, tile);
    float *re = a_re, *im = a_im, *wre = b_re, *wim = b_im;
    if (UsesFourStep(plan, lanes)) {
      FourStepConvolve(d, plan, re, im, kr, ki, local, packed);
    } else {
      StockhamFft<false>(d, plan, lanes, re, im, wre, wim);
      MultiplySpectrum(d, plan, re, im, kr, ki);
      StockhamFft<true>(d, plan, lanes, re, im, wre, wim);
    }
    UnpackRows(d, re, im, count, L, inverse_m, p.D ? p.D + c0 : nullptr, u, p.y + (b * H + c0) * L, L, tile);
  }
}

// Lanes per FFT group: the full vector width, but no wider than the channel count (lanes past it would only
// transform zeros: 2 channels in 16 lanes ran 8x slower than in 4) and no more memory than
// kMaxFftScratchBytes per worker (L = 2^20 with 16 lanes would take 400 MiB); at least 4.
using Tag16 = hn::ScalableTag<float>;
using Tag8 = hn::CappedTag<float, 8>;
using Tag4 = hn::CappedTag<float, 4>;

int64_t FftGroupLanes(const FftPlan& plan, int64_t channels) {
  int64_t lanes = static_cast<int64_t>(hn::Lanes(Tag16()));
  while (lanes > 4 && (lanes > channels * 2 - 1 || FftGroupScratchFloats(plan, lanes) * 4 > kMaxFftScratchBytes)) {
    lanes /= 2;
  }
  return lanes < static_cast<int64_t>(hn::Lanes(Tag4())) ? static_cast<int64_t>(hn::Lanes(Tag4())) : lanes;
}

void FftConvGroup(const ls_fft_conv_params& p, const FftPlan& plan, int64_t lanes, int64_t c0, int64_t count,
                  float* scratch) {
  if (lanes == static_cast<int64_t>(hn::Lanes(Tag16()))) {
    FftConvGroupT(Tag16(), p, plan, c0, count, scratch);
  } else if (lanes == static_cast<int64_t>(hn::Lanes(Tag8()))) {
    FftConvGroupT(Tag8(), p, plan, c0, count, scratch);
  } else {
    FftConvGroupT(Tag4(), p, plan, c0, count, scratch);
  }
}

// A plan's spectrum is kept in the FFT groups' own layout, group after group: (m + 1) x lanes real parts, then
// as many imaginary parts (padding lanes zero), in RealSpectrum's order, so runs read it in place.
template <class D>
HWY_INLINE void SpectrumGroupT(D d, const ls_fft_conv_spectrum_params& p, const FftPlan& plan, int64_t c0,
                               int64_t count, float* scratch) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t stride = (plan.m + 1) * lanes;
  float* kr = p.spectrum + (c0 / lanes) * 2 * stride;
  KernelSpectrum(d, plan, p.k + c0 * p.kernel_len, p.kernel_len, count, scratch, scratch + stride,
                 scratch + 2 * stride, scratch + 3 * stride, kr, kr + stride, scratch + 6 * stride + 2 * lanes * kPackTile,
                 scratch + 6 * stride);
}

void SpectrumGroup(const ls_fft_conv_spectrum_params& p, const FftPlan& plan, int64_t lanes, int64_t c0,
                   int64_t count, float* scratch) {
  if (lanes == static_cast<int64_t>(hn::Lanes(Tag16()))) {
    SpectrumGroupT(Tag16(), p, plan, c0, count, scratch);
  } else if (lanes == static_cast<int64_t>(hn::Lanes(Tag8()))) {
    SpectrumGroupT(Tag8(), p, plan, c0, count, scratch);
  } else {
    SpectrumGroupT(Tag4(), p, plan, c0, count, scratch);
  }
}

// Direct convolution of rows [row0, row1) of [B * H]; scratch holds L + 2 Lk floats.
void DirectRows(const ls_fft_conv_params& p, int64_t row0, int64_t row1, float* scratch) {
  const hn::ScalableTag<float> d;
  const int64_t L = p.seqlen, Lk = p.kernel_len;
  float* padded = scratch;         // [Lk - 1 zeros | u row]
  float* reversed = scratch + L + Lk;  // k reversed, D folded into the tap that meets u[t]
  memset(padded, 0, sizeof(float) * (Lk - 1));
  for (int64_t row = row0; row < row1; ++row) {
    const int64_t h = row % p.channels;
    for (int64_t s = 0; s < Lk; ++s) reversed[Lk - 1 - s] = p.k[h * Lk + s];
    if (p.D) reversed[Lk - 1] += p.D[h];
    memcpy(padded + Lk - 1, p.u + row * L, sizeof(float) * L);
    ConvolveRun<0>(d, padded, L, reversed, Lk, 0.0f, false, p.y + row * L);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ls {
HWY_EXPORT(FftConvGroup);
HWY_EXPORT(FftGroupLanes);
HWY_EXPORT(SpectrumGroup);
HWY_EXPORT(DirectRows);

namespace {

ls_status CheckSizes(int64_t channels, int64_t seqlen, int64_t kernel_len) {
  ls_status s;
  if ((s = CheckPositive("channels", channels)) || (s = CheckPositive("seqlen", seqlen)) ||
      (s = CheckPositive("kernel_len", kernel_len))) {
    return s;
  }
  if (kernel_len > seqlen) {
    return Fail(LS_INVALID_ARGUMENT, "kernel_len (%lld) must be <= seqlen (%lld)", static_cast<long long>(kernel_len),
                static_cast<long long>(seqlen));
  }
  if (seqlen > (int64_t{1} << 30)) {
    return Fail(LS_INVALID_ARGUMENT, "seqlen must be <= 2^30, got %lld", static_cast<long long>(seqlen));
  }
  return LS_OK;
}

// Direct summation costs Lk multiply-adds per output against the FFT path's two transforms of size n per row.
// Measured (AVX-512, one thread, B1 H768 L4096, ms, direct / FFT): Lk 64 8.0 / 14.3, Lk 96 12.5 / 14.4,
// Lk 128 18.0 / 14.5. The FFT's cost per output grows with log n, so the crossover only rises with L.
constexpr int64_t kDirectMaxTaps = 96;

bool ChooseDirect(const ls_fft_conv_params& p) {
  if (p.algorithm == LS_FFT_CONV_DIRECT) return true;
  if (p.algorithm == LS_FFT_CONV_FFT || p.spectrum) return false;
  return p.kernel_len <= kDirectMaxTaps;
}

// Runs group(plan, lanes, c0, count, scratch) for every group of `lanes` channels, in parallel, with the FFT
// plan and per-worker scratch taken first.
template <class Group>
ls_status ForEachFftGroup(int32_t threads, const ls_cancel_flag* cancel, int64_t channels, int64_t seqlen,
                          int64_t kernel_len, const Group& group) {
  const FftPlan* plan = GetFftPlan(FftConvSize(seqlen, kernel_len));
  if (!plan) return Fail(LS_OUT_OF_MEMORY, "out of memory for the FFT plan");
  const int64_t lanes = HWY_DYNAMIC_DISPATCH(FftGroupLanes)(*plan, channels);
  const int64_t groups = (channels + lanes - 1) / lanes;
  const int workers = ParallelWorkers(groups, threads);
  ScratchBuffers scratch(workers, FftGroupScratchFloats(*plan, lanes));
  if (ls_status s = scratch.Check()) return s;
  auto task = [&](int64_t g, int worker) {
    if (Cancelled(cancel)) return;
    const int64_t c0 = g * lanes;
    group(*plan, lanes, c0, channels - c0 < lanes ? channels - c0 : lanes, scratch.get(worker));
  };
  ParallelFor(groups, workers, task);
  return Cancelled(cancel) ? CancelledStatus() : LS_OK;
}

}  // namespace

ls_status ValidateFftConv(const ls_fft_conv_params& p) {
  ls_status s;
  if ((s = CheckPositive("batch", p.batch)) || (s = CheckSizes(p.channels, p.seqlen, p.kernel_len)) ||
      (s = CheckPointer("u", p.u)) || (s = CheckPointer("y", p.y))) {
    return s;
  }
  if (p.algorithm < LS_FFT_CONV_AUTO || p.algorithm > LS_FFT_CONV_DIRECT) {
    return Fail(LS_INVALID_ARGUMENT, "algorithm must be 0 (auto), 1 (fft) or 2 (direct), got %d", p.algorithm);
  }
  if (!p.k && (!p.spectrum || p.algorithm == LS_FFT_CONV_DIRECT)) {
    return Fail(LS_INVALID_ARGUMENT, "k must not be null (it may be only when a spectrum is given, for the FFT path)");
  }
  return CheckStorage(p.storage);
}

ls_status ValidateFftConvSpectrum(const ls_fft_conv_spectrum_params& p) {
  ls_status s;
  if ((s = CheckSizes(p.channels, p.seqlen, p.kernel_len)) || (s = CheckPointer("k", p.k)) ||
      (s = CheckPointer("spectrum", p.spectrum))) {
    return s;
  }
  return CheckStorage(p.storage);
}

ls_status FftConv(const ls_fft_conv_params& p) {
  if (ls_status s = ValidateFftConv(p)) return s;
  if (ls_status s = CheckFloat32Storage(p.storage)) return s;
  if (ChooseDirect(p)) {
    const int64_t rows = p.batch * p.channels;
    const int64_t tasks = (rows + kDirectRowsPerTask - 1) / kDirectRowsPerTask;
    const int workers = ParallelWorkers(tasks, p.threads);
    ScratchBuffers scratch(workers, p.seqlen + 3 * p.kernel_len);
    if (ls_status s = scratch.Check()) return s;
    auto task = [&](int64_t i, int worker) {
      if (Cancelled(p.cancel)) return;
      const int64_t row0 = i * kDirectRowsPerTask;
      const int64_t row1 = row0 + kDirectRowsPerTask < rows ? row0 + kDirectRowsPerTask : rows;
      HWY_DYNAMIC_DISPATCH(DirectRows)(p, row0, row1, scratch.get(worker));
    };
    ParallelFor(tasks, workers, task);
    return Cancelled(p.cancel) ? CancelledStatus() : LS_OK;
  }
  return ForEachFftGroup(p.threads, p.cancel, p.channels, p.seqlen, p.kernel_len,
                         [&](const FftPlan& plan, int64_t lanes, int64_t c0, int64_t count, float* scratch) {
                           HWY_DYNAMIC_DISPATCH(FftConvGroup)(p, plan, lanes, c0, count, scratch);
                         });
}

ls_status FftConvSpectrum(const ls_fft_conv_spectrum_params& p) {
  if (ls_status s = ValidateFftConvSpectrum(p)) return s;
  if (ls_status s = CheckFloat32Storage(p.storage)) return s;
  return ForEachFftGroup(p.threads, p.cancel, p.channels, p.seqlen, p.kernel_len,
                         [&](const FftPlan& plan, int64_t lanes, int64_t c0, int64_t count, float* scratch) {
                           HWY_DYNAMIC_DISPATCH(SpectrumGroup)(p, plan, lanes, c0, count, scratch);
                         });
}

int64_t SpectrumFloats(int64_t channels, int64_t seqlen, int64_t kernel_len) {
  if (channels < 1 || seqlen < 1 || kernel_len < 1 || kernel_len > seqlen || seqlen > (int64_t{1} << 30)) return -1;
  const FftPlan* plan = GetFftPlan(FftConvSize(seqlen, kernel_len));
  if (!plan) return -1;
  const int64_t lanes = HWY_DYNAMIC_DISPATCH(FftGroupLanes)(*plan, channels);
  return (channels + lanes - 1) / lanes * 2 * (plan->m + 1) * lanes;
}

}  // namespace ls

extern "C" ls_status ls_fft_conv_cpu(const ls_fft_conv_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::FftConv(*p);
}

extern "C" int64_t ls_fft_conv_spectrum_floats(int64_t channels, int64_t seqlen, int64_t kernel_len) {
  return ls::SpectrumFloats(channels, seqlen, kernel_len);
}

extern "C" ls_status ls_fft_conv_spectrum_cpu(const ls_fft_conv_spectrum_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::FftConvSpectrum(*p);
}
#endif  // HWY_ONCE
