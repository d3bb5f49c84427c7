// Bench cases for fftConv at DESIGN §6, kernel as long as the input (Hyena), D on; with the kernel's FFT in
// every call, and with a precomputed spectrum (a plan). Flops: the usual 5 n log2 n per complex FFT of size n,
// counted as 2.5 n log2 n per real FFT of size n, three transforms per row (two with a plan) plus the product;
// bytes: u read and y written once.
#include <math.h>
#include <stdio.h>

#include "bench/bench.h"
#include "longseq/longseq.h"

namespace ls_bench {
namespace {

void BenchConv(int64_t H, int64_t L, int64_t Lk, bool with_plan, int algorithm, int threads, double min_seconds,
               std::vector<Result>* results) {
  const std::string op = algorithm == LS_FFT_CONV_DIRECT ? "fftConv direct" : with_plan ? "fftConv plan.run" : "fftConv";
  const std::string config = Format("B1 H%lld L%lld Lk%lld", (long long)H, (long long)L, (long long)Lk);
  if (!Selected(op, config)) return;
  const int64_t B = 1, n = B * H * L;
  const double bytes = 8.0 * n;
  const int copies = RotationCopies(bytes);
  std::vector<std::vector<float>> u(copies);
  for (int c = 0; c < copies; ++c) u[c] = RandomFloats(n, -1, 1, 400 + c);
  const auto k = RandomFloats(H * Lk, -0.01f, 0.01f, 411), D = RandomFloats(H, -1, 1, 412);
  std::vector<float> y(n);
  std::vector<float> spectrum;
  if (with_plan) {
    spectrum.resize(ls_fft_conv_spectrum_floats(H, L, Lk));
    ls_fft_conv_spectrum_params sp = {};
    sp.threads = threads;
    sp.channels = H;
    sp.seqlen = L;
    sp.kernel_len = Lk;
    sp.k = k.data();
    sp.spectrum = spectrum.data();
    if (ls_fft_conv_spectrum_cpu(&sp) != LS_OK) fprintf(stderr, "spectrum failed: %s\n", ls_last_error());
  }
  ls_fft_conv_params p = {};
  p.threads = threads;
  p.batch = B;
  p.channels = H;
  p.seqlen = L;
  p.kernel_len = Lk;
  p.k = k.data();
  p.spectrum = with_plan ? spectrum.data() : nullptr;
  p.D = D.data();
  p.algorithm = algorithm;
  p.y = y.data();

  int64_t fft = 2;
  while (fft < L + Lk - 1) fft *= 2;
  Result r;
  r.op = op;
  r.config = config;
  r.threads = threads;
  r.elements = static_cast<double>(n);
  r.flops = algorithm == LS_FFT_CONV_DIRECT ? 2.0 * Lk * n
                                            : H * ((with_plan ? 2 : 3) * 2.5 * fft * log2(static_cast<double>(fft)) + 3.0 * fft);
  r.bytes = bytes;
  bool failed = false;
  Time(
      [&](int c) {
        p.u = u[c].data();
        if (ls_fft_conv_cpu(&p) != LS_OK) failed = true;
      },
      copies, min_seconds, 3, &r.median_ms, &r.min_ms, &r.runs);
  if (failed) fprintf(stderr, "fftConv %s failed: %s\n", config, ls_last_error());
  results->push_back(r);
}

}  // namespace

void BenchFftConv(int threads, double min_seconds, std::vector<Result>* results) {
  for (int64_t L : {4096, 16384}) BenchConv(768, L, L, false, LS_FFT_CONV_FFT, threads, min_seconds, results);
  for (int64_t L : {131072, 1048576}) {
    BenchConv(64, L, L, false, LS_FFT_CONV_FFT, threads, min_seconds, results);
    BenchConv(64, L, L, true, LS_FFT_CONV_FFT, threads, min_seconds, results);
  }
  // The direct / FFT crossover for short kernels (auto's rule in native/cpu/fft_conv.cc).
  for (int64_t Lk : {16, 32, 48, 64, 96, 128}) {
    BenchConv(768, 4096, Lk, false, LS_FFT_CONV_DIRECT, threads, min_seconds, results);
    BenchConv(768, 4096, Lk, false, LS_FFT_CONV_FFT, threads, min_seconds, results);
  }
}

}  // namespace ls_bench
