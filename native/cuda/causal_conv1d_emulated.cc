// longseq-causal-conv1d-emulated: the CUDA causal conv1d's kernels (causal_conv1d.cu) run on the CPU
// (cuda/emulate.h) against the convolution in double: QuadConvKernel at both halo widths, ConvKernel (odd lengths,
// wide filters), FinalStateKernel (a final state written over the initial one it reads, sequences shorter than
// the filter), and the step kernel; several tiles a row, with and without bias, initial state and SiLU. Prints a
// line per case and exits with the number that failed (relative L2 error above 1e-6).
// test/cudaEmulated.test.ts runs it.
#define LONGSEQ_CUDA_EMULATE
#include <cstdio>
#include <random>

#include "cuda/causal_conv1d.cu"

namespace {

using namespace ls::cuda;
using emulate::RelativeL2;

enum class Kernel { kQuads1, kQuads2, kElements };

struct Case {
  int rows, dim, seqlen, width;
  Kernel kernel;
  bool bias, initial, silu, final_over_initial;
};

double Silu(double z) { return z / (1 + std::exp(-z)); }

int failed = 0;

void Report(const char* what, double error) {
  const bool ok = error <= 1e-6;
  failed += !ok;
  printf("%s: rel L2 %.2g %s\n", what, error, ok ? "ok" : "FAIL");
}

void Conv(const Case& c) {
  std::mt19937 rng(c.seqlen * 7 + c.width);
  std::normal_distribution<float> normal;
  const int halo = c.width - 1;
  const int64_t L = c.seqlen;
  std::vector<float> x(int64_t{c.rows} * L), w(int64_t{c.dim} * c.width), bias(c.dim), initial(int64_t{c.rows} * halo);
  for (std::vector<float>* v : {&x, &w, &bias, &initial}) {
    for (float& e : *v) e = normal(rng);
  }
  const std::vector<float> initial_before = initial;
  std::vector<float> y(x.size(), NAN), final_state(initial.size(), NAN);
  float* final_out = c.final_over_initial ? initial.data() : final_state.data();
  const ConvArgs a = {c.rows, c.dim, L, c.width, x.data(), w.data(), c.bias ? bias.data() : nullptr,
                      c.initial ? initial.data() : nullptr, y.data(), final_out, c.silu};
  const int64_t tiles = (L + kTile - 1) / kTile;
  const int blocks = static_cast<int>(c.rows * tiles);
  if (c.kernel == Kernel::kQuads1) {
    emulate::Launch(blocks, kThreads, 0, [&] { QuadConvKernel<1>(a, tiles); });
  } else if (c.kernel == Kernel::kQuads2) {
    emulate::Launch(blocks, kThreads, 0, [&] { QuadConvKernel<2>(a, tiles); });
  } else {
    emulate::Launch(blocks, kThreads, 0, [&] { ConvKernel(a, tiles); });
  }
  emulate::Launch(static_cast<int>((c.rows + kThreads - 1) / kThreads), kThreads, 0, [&] { FinalStateKernel(a); });

  double y_error = 0, y_norm = 0, s_error = 0, s_norm = 0;
  for (int r = 0; r < c.rows; ++r) {
    const int ch = r % c.dim;
    // [initial state | x] at index halo + t
    auto input = [&](int64_t t) -> double {
      return t >= 0 ? x[r * L + t] : c.initial ? initial_before[r * halo + halo + t] : 0.0;
    };
    for (int64_t t = 0; t < L; ++t) {
      double sum = c.bias ? bias[ch] : 0.0;
      for (int j = 0; j < c.width; ++j) sum += double(w[ch * c.width + j]) * input(t - halo + j);
      if (c.silu) sum = Silu(sum);
      const double e = y[r * L + t] - sum;
      y_error += e * e, y_norm += sum * sum;
    }
    for (int i = 0; i < halo; ++i) {
      const double want = input(L - halo + i), e = final_out[r * halo + i] - want;
      s_error += e * e, s_norm += want * want;
    }
  }
  char what[160];
  snprintf(what, sizeof what, "conv rows %d L%d W%d, %s kernel%s%s%s%s", c.rows, c.seqlen, c.width,
           c.kernel == Kernel::kElements ? "element"
           : c.kernel == Kernel::kQuads1  ? "quad (1 halo quad)"
                                          : "quad (2 halo quads)",
           c.bias ? ", bias" : "", c.initial ? ", initial state" : "", c.silu ? ", SiLU" : "",
           c.final_over_initial ? ", final state over the initial" : "");
  Report(what, std::max(RelativeL2(y_error, y_norm), RelativeL2(s_error, s_norm)));
}

void Step(int rows, int dim, int width, bool silu) {
  std::mt19937 rng(rows + width);
  std::normal_distribution<float> normal;
  const int halo = width - 1;
  std::vector<float> state(int64_t{rows} * halo), x(rows), w(int64_t{dim} * width), bias(dim);
  for (std::vector<float>* v : {&state, &x, &w, &bias}) {
    for (float& e : *v) e = normal(rng);
  }
  const std::vector<float> before = state;
  std::vector<float> y(rows, NAN);
  const StepArgs a = {rows, dim, width, state.data(), x.data(), w.data(), bias.data(), y.data(), silu};
  emulate::Launch((rows + kThreads - 1) / kThreads, kThreads, 0, [&] { StepKernel(a); });
  double error = 0, norm = 0;
  for (int r = 0; r < rows; ++r) {
    const int ch = r % dim;
    double sum = bias[ch] + double(w[ch * width + halo]) * x[r];
    for (int j = 0; j < halo; ++j) sum += double(w[ch * width + j]) * before[r * halo + j];
    if (silu) sum = Silu(sum);
    error += (y[r] - sum) * (y[r] - sum), norm += sum * sum;
    for (int j = 0; j < halo; ++j) {
      const double want = j + 1 < halo ? before[r * halo + j + 1] : x[r], e = state[r * halo + j] - want;
      error += e * e, norm += want * want;
    }
  }
  char what[80];
  snprintf(what, sizeof what, "step rows %d W%d%s", rows, width, silu ? ", SiLU" : "");
  Report(what, RelativeL2(error, norm));
}

}  // namespace

int main() {
  const Case cases[] = {
      {3, 3, 4100, 4, Kernel::kQuads1, true, true, true, true},
      {2, 2, 8, 2, Kernel::kQuads1, false, true, false, false},
      {4, 2, 4104, 7, Kernel::kQuads2, false, false, false, false},
      {2, 1, 52, 9, Kernel::kQuads2, true, true, true, true},
      {3, 3, 4099, 4, Kernel::kElements, true, true, true, false},
      {2, 2, 100, 33, Kernel::kElements, false, true, true, true},
      {1, 1, 5000, 64, Kernel::kElements, true, true, false, false},
      {2, 2, 3, 8, Kernel::kElements, true, true, true, true},  // shorter than the filter
  };
  for (const Case& c : cases) Conv(c);
  Step(300, 7, 4, true);
  Step(40, 40, 9, false);
  Step(5, 5, 2, true);
  return failed;
}
