// longseq-fft-conv-emulated: fft_conv.cu's kernels run on the CPU (cuda/emulate.h) against the direct causal
// convolution in double, launched as FftConv launches them: the fused ones (n <= 2^14: the spectrum kernel, the
// convolution kernel with the filters' spectrum or with their FFT inline, split among the warps at 2^13) and the
// four-step ones (n = 2^14 to 2^16).
// float32 and bfloat16 storage. Prints a line per case and exits with the number that failed (relative L2 error above
// 1e-5, 4e-3 in bfloat16).
// test/cudaEmulated.test.ts runs it.
#define LONGSEQ_CUDA_EMULATE
#include <cstdio>
#include <random>

#include "cuda/fft_conv.cu"

namespace {

using namespace ls::cuda;

struct Case {
  int batch, channels, seqlen, kernel_len;
  bool inline_filters;  // the filters' FFT in the convolution's block (FftConv: one batch row, n <= 2^13)
  bool four_step = false;  // the four-step kernels (n > 2^14, and 2^14 on GPUs whose blocks may have 99 KB)
  bool bf16 = false;       // u, k and y stored as bfloat16
};

// FftConv's four-step passes over every item at once (one chunk): the filters' spectrum (column pass, row pass),
// then u's column pass, the row pass that multiplies, and the inverse column pass. 8192-point column blocks.
template <int kLogN1, typename S>
void FourStep(const RowPair<S>& u, const RowPair<S>& k, const float* D, const Output<S>& out, int64_t items,
              float2* spectrum, float2* rows) {
  constexpr int kLogN = kLogN1 + kLogRow, kLogPoints = 13;
  const size_t column_shared = BlockShared(1 << kLogPoints);
  const auto column_blocks = [](int64_t count) { return static_cast<int>(ColumnBlocks(count, kLogN1, kLogPoints)); };
  const auto row_blocks = [](int64_t count) { return static_cast<int>(RowBlocks(count, kLogN1)); };
  emulate::Launch(column_blocks(k.pairs), ColumnThreads(kLogPoints), column_shared,
                  [&] { ColumnForwardKernel<kLogN1, kLogPoints, S>(k, spectrum, 0, kLogN); });
  emulate::Launch(row_blocks(k.pairs), kPassThreads, kPassShared, [&] { RowSpectrumKernel(spectrum, kLogN, kLogN1); });
  emulate::Launch(column_blocks(items), ColumnThreads(kLogPoints), column_shared,
                  [&] { ColumnForwardKernel<kLogN1, kLogPoints, S>(u, rows, 0, kLogN); });
  emulate::Launch(row_blocks(items), kPassThreads, kPassShared,
                  [&] { RowConvKernel(rows, spectrum, D, out.channels, 0, 0, k.pairs, kLogN, kLogN1); });
  emulate::Launch(column_blocks(items), ColumnThreads(kLogPoints), column_shared,
                  [&] { ColumnInverseKernel<kLogN1, kLogPoints, S>(rows, out, 0, kLogN); });
}

// The relative L2 error of y = u * k + D u, stored as S, against the sum in double of the stored u and k, for random
// u, k and D.
template <typename S>
double Error(const Case& c, bool& staged_launch) {
  std::mt19937 rng(c.seqlen * 7 + c.kernel_len + c.batch * 131 + c.channels);
  std::normal_distribution<float> normal;
  std::vector<S> u(size_t(c.batch) * c.channels * c.seqlen), k(size_t(c.channels) * c.kernel_len);
  std::vector<float> D(c.channels);
  for (S& x : u) StoreAs(&x, normal(rng));
  for (S& x : k) StoreAs(&x, normal(rng) / 30);
  for (float& x : D) x = normal(rng);
  std::vector<S> y(u.size());
  for (S& x : y) StoreAs(&x, NAN);
  int log_n = 1;  // as FftConvSize: the smallest power of two >= L + Lk - 1, at least 2
  while ((1 << log_n) < c.seqlen + c.kernel_len - 1) ++log_n;
  const int64_t pairs = (c.channels + 1) / 2, n = int64_t{1} << log_n;
  const RowPair<S> ur = {u.data(), c.channels, c.seqlen, pairs}, kr = {k.data(), c.channels, c.kernel_len, pairs};
  const Output<S> out = {y.data(), c.channels, c.seqlen, pairs};
  std::vector<float2> spectrum(pairs * n, make_float2(NAN, NAN));
  if (c.four_step) {
    std::vector<float2> rows(c.batch * pairs * n, make_float2(NAN, NAN));
    Dispatch<kLogMinFourStep - kLogRow, 4>(log_n - kLogRow, [&](auto log_n1) {
      FourStep<decltype(log_n1)::value, S>(ur, kr, D.data(), out, c.batch * pairs, spectrum.data(), rows.data());
    });
  } else {
    // A staged launch as on a GPU whose blocks may have 227 KiB (sm_90), each block over two items or more.
    const auto blocks = [](bool staged, int64_t items) { return static_cast<int>(staged ? (items + 1) / 2 : items); };
    Dispatch<1, kLogMaxFused>(log_n, [&](auto log) {
      constexpr int kLogN = decltype(log)::value;
      if (!c.inline_filters) {
        const size_t spectrum_stage = SpectrumStageBytes(log_n, c.kernel_len, sizeof(S), 227 << 10);
        LaunchSpectrum<kLogN, S>(spectrum_stage, [&](auto kernel, int threads, size_t shared, bool staged) {
          staged_launch = staged_launch || staged;
          emulate::Launch(blocks(staged, pairs), threads, shared,
                          [&] { decltype(kernel)::kernel(kr, spectrum.data()); });
        });
      }
      const size_t stage_bytes = FusedStageBytes(log_n, c.inline_filters, c.seqlen, c.kernel_len, sizeof(S), 227 << 10);
      const int64_t items = c.batch * pairs;
      LaunchFused<kLogN, S>(c.inline_filters, stage_bytes, [&](auto kernel, int threads, size_t shared, bool staged) {
        staged_launch = staged_launch || staged;
        emulate::Launch(blocks(staged, items), threads, shared, [&] {
          decltype(kernel)::kernel(ur, kr, c.inline_filters ? nullptr : spectrum.data(), D.data(), out, c.batch);
        });
      });
    });
  }
  double error = 0, norm = 0;
  for (int b = 0; b < c.batch; ++b) {
    for (int ch = 0; ch < c.channels; ++ch) {
      const S* row = &u[(size_t(b) * c.channels + ch) * c.seqlen];
      const S* filter = &k[size_t(ch) * c.kernel_len];
      for (int t = 0; t < c.seqlen; ++t) {
        double sum = double(D[ch]) * ToFloat(row[t]);
        for (int j = 0; j <= t && j < c.kernel_len; ++j) sum += double(ToFloat(filter[j])) * ToFloat(row[t - j]);
        const double d = ToFloat(y[(size_t(b) * c.channels + ch) * c.seqlen + t]) - sum;
        error += d * d, norm += sum * sum;
      }
    }
  }
  return emulate::RelativeL2(error, norm);
}

}  // namespace

int main() {
  // Every fused size's paths: n = 2^14 (spectrum only), 2^13 and 2^12 (a power of 16: no middle pass) both ways, odd
  // channel counts (a pair without its second channel), Lk < L, L past n / 2 (no zero half), tiny n; the split kernel
  // (2^13, filters inline) and the spectrum kernel at 2^14 staged, and not where their rows are not whole 16-byte copies
  // (L 4097, Lk 4385); then the four-step at n1 = 4, 8 and 16; and bfloat16 storage through each kind of kernel.
  const Case cases[] = {{2, 3, 8192, 8192, false},  {2, 2, 9000, 100, false},  {1, 3, 16000, 300, false},
                        {1, 1, 12000, 4385, false}, {1, 3, 4096, 4096, true},  {2, 3, 4096, 4096, false},
                        {1, 3, 5000, 3000, true},   {1, 3, 6000, 2000, true},  {2, 5, 5000, 3000, false},
                        {1, 4, 2048, 2048, true},   {2, 3, 2048, 2048, false}, {1, 3, 3000, 1000, true},
                        {2, 3, 1000, 1000, false},  {1, 3, 100, 100, true},    {2, 3, 100, 28, false},
                        {1, 2, 16, 16, true},       {3, 3, 16, 16, false},     {1, 1, 1, 1, false},
                        {2, 3, 8192, 8192, false, true}, {1, 3, 20000, 3000, false, true},
                        {2, 1, 30000, 30000, false, true},
                        {1, 3, 4097, 4000, true},
                        {2, 3, 8192, 8192, false, false, true}, {1, 3, 4096, 4096, true, false, true},
                        {1, 3, 20000, 3000, false, true, true}};
  int failed = 0;
  for (const Case& c : cases) {
    // bfloat16: y's rounding alone is about 1e-3 (relative L2)
    bool staged = false;
    const double error = c.bf16 ? Error<__nv_bfloat16>(c, staged) : Error<float>(c, staged);
    const double bound = c.bf16 ? 4e-3 : 1e-5;
    const bool ok = error <= bound;
    failed += !ok;
    const char* path = c.four_step ? "four-step" : c.inline_filters ? "filters inline" : "spectrum kernel";
    printf("B%d C%d L%d Lk%d %s%s%s: rel L2 %.2g %s\n", c.batch, c.channels, c.seqlen, c.kernel_len, path,
           staged ? ", staged" : "", c.bf16 ? ", bfloat16" : "", error, ok ? "ok" : "FAIL");
  }
  return failed;
}
