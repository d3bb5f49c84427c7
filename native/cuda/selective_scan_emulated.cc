// longseq-selective-scan-emulated: the CUDA selective scan's kernels (selective_scan.cu, selective_scan_step.cu) run
// on the CPU (cuda/emulate.h) against the recurrence in double. The scan kernel in each tile shape SelectiveScan
// launches (8 steps a lane with 4 states at once; 4 steps with 8 states, with two B/C buffers or one), float32 and
// bfloat16 storage, quad and element-wise access, strided rows, idle warps, groups, every option; the step's three
// kernels. Prints a line per case and exits with the number that failed (relative L2 error above 2e-5; y above 4e-3
// in bfloat16, whose rounding of y alone gives about 1.5e-3).
// test/cudaEmulated.test.ts runs it.
#define LONGSEQ_CUDA_EMULATE
#include <cstdio>
#include <random>
#include <string>

#include "cuda/selective_scan.cu"
#include "cuda/selective_scan_step.cu"

namespace {

using namespace ls::cuda;
using emulate::RelativeL2;

struct Options {
  bool softplus, D, z, bias, initial, final;
};
constexpr Options kAll = {true, true, true, true, true, true};
constexpr Options kNone = {false, false, false, false, false, false};

struct ScanCase {
  int batch, dim, dstate, seqlen, groups;
  int warps;
  int row_pad;  // extra elements between rows (and batches) of u, delta, z, B, C and y
  Options options;
};

double Softplus(double x) { return x > 20 ? x : std::log1p(std::exp(x)); }
double Silu(double z) { return z / (1 + std::exp(-z)); }

// Random inputs stored as S, as the kernels and the reference both read them.
template <typename S>
struct Inputs {
  std::vector<S> u, delta, z, B, C;
  std::vector<float> A, D, bias, initial;
};


// Launches SelectiveScanKernel<S, kVector, K, kGroup, 2, kBuffers> on case c; returns the relative L2 errors of y and
// of the final state against the recurrence in double.
template <typename S, bool kVector, int K, int kGroup, int kBuffers>
std::pair<double, double> ScanErrors(const ScanCase& c) {
  std::mt19937 rng(c.seqlen * 31 + c.dstate * 7 + c.dim + c.warps);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  const int64_t L = c.seqlen, N = c.dstate, row = L + c.row_pad;
  const int64_t channel_batch = c.dim * row + c.row_pad, state_batch = c.groups * N * row + c.row_pad;
  Inputs<S> in;
  auto fill = [&](std::vector<S>& v, int64_t size, float scale, float shift) {
    v.resize(size);
    for (S& x : v) StoreAs(&x, normal(rng) * scale + shift);
  };
  fill(in.u, c.batch * channel_batch, 1.f, 0.f);
  fill(in.delta, c.batch * channel_batch, 0.5f, c.options.softplus ? -1.f : 0.05f);
  if (!c.options.softplus) {
    for (S& x : in.delta) StoreAs(&x, std::fabs(ToFloat(x)));  // a step size without softplus is positive
  }
  if (c.options.z) fill(in.z, c.batch * channel_batch, 1.f, 0.f);
  fill(in.B, c.batch * state_batch, 1.f, 0.f);
  fill(in.C, c.batch * state_batch, 1.f, 0.f);
  in.A.resize(c.dim * N);
  for (float& a : in.A) a = -(0.2f + 4 * uniform(rng));
  if (c.options.D) in.D.resize(c.dim);
  for (float& d : in.D) d = normal(rng);
  if (c.options.bias) in.bias.resize(c.dim);
  for (float& b : in.bias) b = 0.2f * normal(rng);
  if (c.options.initial) in.initial.resize(c.batch * c.dim * N);
  for (float& h : in.initial) h = normal(rng);
  std::vector<S> y(in.u.size());
  for (S& x : y) StoreAs(&x, NAN);
  std::vector<float> final_state(c.options.final ? c.batch * c.dim * N : 0, NAN);

  ScanArgs a = {};
  a.batch = c.batch, a.dim = c.dim, a.dstate = N, a.seqlen = L, a.groups = c.groups;
  a.u = in.u.data(), a.delta = in.delta.data(), a.z = c.options.z ? in.z.data() : nullptr;
  a.B = in.B.data(), a.C = in.C.data();
  a.u_strides = a.delta_strides = a.z_strides = a.y_strides = {channel_batch, row};
  a.B_strides = a.C_strides = {state_batch, row};
  a.A = in.A.data();
  a.D = c.options.D ? in.D.data() : nullptr;
  a.delta_bias = c.options.bias ? in.bias.data() : nullptr;
  a.initial_state = c.options.initial ? in.initial.data() : nullptr;
  a.y = y.data();
  a.final_state = c.options.final ? final_state.data() : nullptr;
  a.delta_softplus = c.options.softplus;
  a.states_padded = static_cast<int>((N + kStatePad - 1) / kStatePad * kStatePad);
  a.warps = c.warps;
  const int64_t per_group = c.dim / c.groups;
  a.blocks_per_group = (per_group + c.warps - 1) / c.warps;
  emulate::Launch(static_cast<int>(c.batch * c.groups * a.blocks_per_group), c.warps * kLanes,
                  SharedBytes<S, K, kBuffers>(a.states_padded, c.warps),
                  [&] { SelectiveScanKernel<S, kVector, K, kGroup, 2, kBuffers>(a); });

  double y_error = 0, y_norm = 0, h_error = 0, h_norm = 0;
  std::vector<double> h(N);
  for (int b = 0; b < c.batch; ++b) {
    for (int d = 0; d < c.dim; ++d) {
      const int64_t g = d / per_group, at = b * channel_batch + d * row;
      for (int n = 0; n < N; ++n) h[n] = c.options.initial ? in.initial[(b * c.dim + d) * N + n] : 0.0;
      for (int64_t t = 0; t < L; ++t) {
        double dt = ToFloat(in.delta[at + t]) + (c.options.bias ? in.bias[d] : 0.f);
        if (c.options.softplus) dt = Softplus(dt);
        const double u = ToFloat(in.u[at + t]);
        double sum = c.options.D ? in.D[d] * u : 0.0;
        for (int n = 0; n < N; ++n) {
          const int64_t bc = b * state_batch + (g * N + n) * row + t;
          h[n] = std::exp(dt * in.A[d * N + n]) * h[n] + dt * ToFloat(in.B[bc]) * u;
          sum += ToFloat(in.C[bc]) * h[n];
        }
        if (c.options.z) sum *= Silu(ToFloat(in.z[at + t]));
        const double e = ToFloat(y[at + t]) - sum;
        y_error += e * e, y_norm += sum * sum;
      }
      for (int n = 0; n < N && c.options.final; ++n) {
        const double e = final_state[(b * c.dim + d) * N + n] - h[n];
        h_error += e * e, h_norm += h[n] * h[n];
      }
    }
  }
  return {RelativeL2(y_error, y_norm), c.options.final ? RelativeL2(h_error, h_norm) : 0.0};
}

struct StepCase {
  int batch, dim, dstate, groups;
  bool bf16;
};

// One decode step through the kernel SelectiveScanStep picks for the case's dstate (QuadStepKernel for dstate / 4 a
// power of two up to 32, StepKernel up to 256 states, WideStepKernel past that), every option on; the relative L2
// errors of y and of the new state.
template <typename S>
std::pair<double, double> StepErrors(const StepCase& c, const char** kernel) {
  std::mt19937 rng(c.dstate * 13 + c.dim);
  std::normal_distribution<float> normal;
  const int64_t N = c.dstate, channels = int64_t{c.batch} * c.dim;
  Inputs<S> in;
  auto fill = [&](std::vector<S>& v, int64_t size, float scale, float shift) {
    v.resize(size);
    for (S& x : v) StoreAs(&x, normal(rng) * scale + shift);
  };
  fill(in.u, channels, 1.f, 0.f);
  fill(in.delta, channels, 0.5f, -1.f);
  fill(in.z, channels, 1.f, 0.f);
  fill(in.B, int64_t{c.batch} * c.groups * N, 1.f, 0.f);
  fill(in.C, int64_t{c.batch} * c.groups * N, 1.f, 0.f);
  in.A.resize(c.dim * N);
  for (float& a : in.A) a = -std::fabs(normal(rng)) * 3 - 0.1f;
  in.D.resize(c.dim);
  for (float& d : in.D) d = normal(rng);
  in.bias.resize(c.dim);
  for (float& b : in.bias) b = 0.2f * normal(rng);
  std::vector<float> state(channels * N);
  for (float& h : state) h = normal(rng);
  const std::vector<float> before = state;
  std::vector<S> y(channels);
  for (S& x : y) StoreAs(&x, NAN);
  const StepArgs a = {c.batch, c.dim, N, c.groups, state.data(), in.u.data(), in.delta.data(), in.z.data(),
                      in.B.data(), in.C.data(), in.A.data(), in.D.data(), in.bias.data(), y.data(), true};
  const int64_t quads = N / 4;
  if (N % 4 == 0 && quads <= 32 && (quads & (quads - 1)) == 0) {
    int quads_log2 = 0;
    while ((int64_t{1} << quads_log2) < quads) ++quads_log2;
    *kernel = "quads";
    emulate::Launch(static_cast<int>((channels * quads + kThreads - 1) / kThreads), kThreads, 0,
                    [&] { QuadStepKernel<S>(a, quads_log2); });
  } else if (N <= kThreads) {
    const int per_block = static_cast<int>(kThreads / N);
    *kernel = "states";
    emulate::Launch(static_cast<int>(c.batch * ((c.dim + per_block - 1) / per_block)), kThreads, 0,
                    [&] { StepKernel<S>(a, per_block); });
  } else {
    *kernel = "wide";
    emulate::Launch(static_cast<int>((channels + kThreads - 1) / kThreads), kThreads, 0, [&] { WideStepKernel<S>(a); });
  }
  double y_error = 0, y_norm = 0, h_error = 0, h_norm = 0;
  for (int64_t bd = 0; bd < channels; ++bd) {
    const int64_t b = bd / c.dim, d = bd % c.dim, g = d / (c.dim / c.groups);
    const double dt = Softplus(ToFloat(in.delta[bd]) + in.bias[d]), u = ToFloat(in.u[bd]);
    double sum = in.D[d] * u;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t bc = (b * c.groups + g) * N + n;
      const double h = std::exp(dt * in.A[d * N + n]) * before[bd * N + n] + dt * ToFloat(in.B[bc]) * u;
      sum += ToFloat(in.C[bc]) * h;
      const double e = state[bd * N + n] - h;
      h_error += e * e, h_norm += h * h;
    }
    sum *= Silu(ToFloat(in.z[bd]));
    const double e = ToFloat(y[bd]) - sum;
    y_error += e * e, y_norm += sum * sum;
  }
  return {RelativeL2(y_error, y_norm), RelativeL2(h_error, h_norm)};
}

int failed = 0;

void Report(const std::string& what, std::pair<double, double> errors, bool bf16) {
  const bool ok = errors.first <= (bf16 ? 4e-3 : 2e-5) && errors.second <= 2e-5;
  failed += !ok;
  printf("%s: rel L2 y %.2g state %.2g %s\n", what.c_str(), errors.first, errors.second, ok ? "ok" : "FAIL");
}

template <typename S, bool kVector, int K, int kGroup, int kBuffers>
void Scan(const ScanCase& c) {
  char what[160];
  snprintf(what, sizeof what, "scan B%d D%d N%d L%d G%d, %d warps, %d-step lanes with %d states, %d buffer%s, %s%s%s",
           c.batch, c.dim, c.dstate, c.seqlen, c.groups, c.warps, K, kGroup, kBuffers, kBuffers > 1 ? "s" : "",
           kVector ? "quads" : "elements", c.row_pad ? ", strided rows" : "", c.options.z ? "" : ", no options");
  Report(std::string(what) + (sizeof(S) == 2 ? ", bfloat16" : ""), ScanErrors<S, kVector, K, kGroup, kBuffers>(c),
         sizeof(S) == 2);
}

void Step(const StepCase& c) {
  const char* kernel = "";
  const auto errors = c.bf16 ? StepErrors<__nv_bfloat16>(c, &kernel) : StepErrors<float>(c, &kernel);
  char what[120];
  snprintf(what, sizeof what, "step B%d D%d N%d G%d (%s kernel)%s", c.batch, c.dim, c.dstate, c.groups, kernel,
           c.bf16 ? ", bfloat16" : "");
  Report(what, errors, c.bf16);
}

}  // namespace

int main() {
  // Tiles of 256 steps (8 a lane) with 4 states at once: partial last tiles, idle warps, two groups, odd lengths by
  // elements, strided rows; states padded to 8 (N13).
  Scan<float, true, 8, 4, 2>({2, 5, 16, 600, 1, 4, 0, kAll});
  Scan<float, true, 8, 4, 2>({1, 6, 16, 520, 2, 2, 8, kAll});
  Scan<float, false, 8, 4, 2>({1, 3, 13, 301, 1, 3, 3, kNone});
  Scan<float, false, 8, 4, 2>({2, 4, 8, 77, 2, 1, 0, kAll});
  Scan<__nv_bfloat16, true, 8, 4, 2>({2, 5, 16, 600, 1, 4, 0, kAll});
  Scan<__nv_bfloat16, false, 8, 4, 2>({1, 3, 13, 301, 1, 3, 5, kAll});
  // Tiles of 128 steps (4 a lane) with 8 states at once, past 32 states: two buffers, and one (float32 past 48 states
  // on 99 KB GPUs).
  Scan<float, true, 4, 8, 2>({1, 3, 40, 300, 1, 2, 0, kAll});
  Scan<float, true, 4, 8, 1>({1, 5, 56, 260, 1, 3, 4, kAll});
  Scan<float, false, 4, 8, 1>({1, 2, 64, 131, 1, 2, 0, kNone});
  Scan<__nv_bfloat16, true, 4, 8, 2>({1, 3, 40, 300, 1, 2, 0, kAll});
  Scan<__nv_bfloat16, false, 4, 8, 2>({2, 2, 33, 199, 2, 1, 1, kAll});
  // The step: quads (1, 2, 4, 8 and 32 threads a channel), a thread per state (dstate 12, 13), a thread per channel.
  for (const StepCase& c : std::initializer_list<StepCase>{{2, 70, 4, 1, false},
                                                            {2, 40, 8, 2, false},
                                                            {3, 30, 16, 1, false},
                                                            {1, 20, 32, 1, true},
                                                            {1, 9, 128, 1, false},
                                                            {2, 50, 12, 2, false},
                                                            {1, 30, 13, 1, true},
                                                            {1, 3, 300, 1, false},
                                                            {2, 4, 16, 2, true}}) {
    Step(c);
  }
  return failed;
}
