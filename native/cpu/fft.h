// FFT plans: twiddle tables for real FFTs of power-of-two sizes, built once per size and cached.
#ifndef LONGSEQ_CPU_FFT_H_
#define LONGSEQ_CPU_FFT_H_

#include <stdint.h>

#include <vector>

namespace ls {

// Real FFT of size n = 2m (m a power of two, m >= 1), computed as a complex FFT of size m on the even/odd
// samples packed as z[j] = x[2j] + i x[2j+1], then unpacked. Twiddles are computed in float64 and rounded once,
// so their error does not grow with n (no recurrences).
struct FftPlan {
  int64_t n = 0;  // real size
  int64_t m = 0;  // complex size, n / 2
  // w[j] = exp(-2 pi i j / m), j < m: the complex FFT's twiddles (each stage reads a stride of them).
  std::vector<float> w_re, w_im;
  // r[k] = exp(-2 pi i k / n), k <= m: the real unpacking twiddles.
  std::vector<float> r_re, r_im;
  // For m >= kFourStepPlanMin, the plans of real size 2 m1 and 2 m2 for running the complex FFT as m = m1 x m2
  // sub-FFTs (see fft-inl.h) where UsesFourStep says so. Null below.
  const FftPlan* cols = nullptr;
  const FftPlan* rows = nullptr;
};

// The complex size from which the transforms take the four-step decomposition (fft-inl.h) at `lanes`-float
// vectors: below it the plain radix-4 passes are faster, their buffers near enough to L1. Measured with fftConv
// B1 H768 L = m (one thread, AMD Zen 3, 2026-12-05), the four-step's time over the plain path's:
// - 8 lanes (AVX2): 1.11x at m = 512, then 0.93x / 0.95x / 0.95x at m = 1024 / 2048 / 4096;
// - 4 lanes (WASM, relaxed SIMD / SIMD128): 1.7x at 512, 1.14x / 1.21x at 1024, 0.97x / 1.04x at 2048,
//   0.91x / 0.90x at 4096;
// - 16 lanes (AVX-512): 8192, chosen when the four-step was written and not measured at smaller sizes since.
// Those were the five-pass form. With FourStepConvolve's three passes (fft-inl.h) one step lower measured even or
// mixed, so the points stayed: 0.997x from 512 at 8 lanes; 1.02x (relaxed SIMD) and 0.93x (SIMD128) from 2048 at 4.
inline int64_t FourStepMin(int64_t lanes) {
  if (lanes <= 4) return int64_t{1} << 12;
  if (lanes == 8) return int64_t{1} << 10;
  return int64_t{1} << 13;
}

// The smallest FourStepMin: plans from this complex size on carry the four-step's sub-plans.
constexpr int64_t kFourStepPlanMin = int64_t{1} << 10;

inline bool UsesFourStep(const FftPlan& plan, int64_t lanes) {
  return plan.cols != nullptr && plan.m >= FourStepMin(lanes);
}

// Columns the four-step's column pass transforms side by side with `lanes`-float vectors, at most m2: at least
// enough that each element it gathers is a whole 64-byte line (a column of 4-lane vectors alone used a quarter of
// every line it touched, each line then read and written four times: WASM, and native at L >= 2^20). At 8 lanes
// (AVX2) two lines: fftConv B1 H64 L131072 0.915-0.929x, B1 H768 L4096 0.946-0.96x and L16384 0.973x against one
// (AMD Zen 3, 2026-12-05), four lines 0.941x and 1.105x; at 4 lanes (WASM) two lines were 1.02-1.04x (all with the
// five-pass form, before FourStepConvolve). 16 lanes (AVX-512) keep one line, not measured since.
inline int64_t FourStepColumnGroup(int64_t lanes, int64_t m2) {
  const int64_t group = lanes >= 16 ? 1 : 4;
  return group < m2 ? group : m2;
}

// Floats of each buffer a four-step transform keeps in `local` (fft-inl.h: 4 or 6 of them): the column pass's
// FourStepColumnGroup columns or a row, whichever is longer, in `lanes`-float elements.
inline int64_t FourStepBufferFloats(const FftPlan& plan, int64_t lanes) {
  const int64_t columns = plan.cols->m * FourStepColumnGroup(lanes, plan.rows->m);
  return (columns > plan.rows->m ? columns : plan.rows->m) * lanes;
}

// The rows of the four-step's m1 x m2 layout (fft-inl.h) that hold any of its first `count` elements.
inline int64_t FourStepRows(const FftPlan& plan, int64_t count) {
  const int64_t rows = (count + plan.rows->m - 1) / plan.rows->m;
  return rows < plan.cols->m ? rows : plan.cols->m;
}

// Elements of a transform's input that must be in memory when those from `nonzero` on are zero: the four-step reads
// the whole rows of its layout that hold any, the plain path all m.
inline int64_t FftInputExtent(const FftPlan& plan, int64_t lanes, int64_t nonzero) {
  return UsesFourStep(plan, lanes) ? FourStepRows(plan, nonzero) * plan.rows->m : plan.m;
}

// The plan for real size n (a power of two >= 2), shared and never freed; nullptr if out of memory.
const FftPlan* GetFftPlan(int64_t n);

// The FFT size for a causal convolution of a length-`seqlen` signal with a length-`kernel_len` kernel: the
// smallest power of two >= seqlen + kernel_len - 1 (and >= 2), so the circular convolution does not wrap.
int64_t FftConvSize(int64_t seqlen, int64_t kernel_len);

}  // namespace ls

#endif  // LONGSEQ_CPU_FFT_H_
