// What longseq-ssd-scan-emulated's three parts share (ssd_scan_emulated.cc: the recurrent kernel and the chunked
// form's decays; ssd_scan_chunked_emulated.cc and ssd_scan_chunked_bf16_emulated.cc: the chunked float32 and bf16
// forms): a case's random inputs, the recurrence in double, and the report line. Included after cuda/emulate.h (through a kernel source).
#ifndef LONGSEQ_CUDA_SSD_SCAN_EMULATED_H_
#define LONGSEQ_CUDA_SSD_SCAN_EMULATED_H_

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace ssd_emulated {

using ls::cuda::StoreAs;
using ls::cuda::emulate::RelativeL2;
using ls::cuda::ToFloat;

struct Case {
  int batch, seqlen, heads, head_dim, groups, dstate;
  bool D_per_dim, z, softplus, initial, final_over_initial;
};

inline double Softplus(double x) { return x > 20 ? x : std::log1p(std::exp(x)); }
inline double Silu(double z) { return z / (1 + std::exp(-z)); }
inline double StepSize(double dt, double bias, bool softplus, double lo, double hi) {
  dt += bias;
  if (softplus) dt = Softplus(dt);
  return std::min(std::max(dt, lo), hi);
}
constexpr float kDtMin = 0.001f, kDtMax = 2.f;

// A case's inputs stored as S (x, z, B, C) and float32 (the rest), y poisoned with NaN, and where the final state goes
// (over the initial state when the case says so).
template <typename S>
struct Problem {
  Case c;
  std::vector<S> x, z, B, C, y;
  std::vector<float> dt, A, D, bias, initial, initial_before, final_state;
  float* final_out;

  explicit Problem(const Case& kase) : c(kase) {
    std::mt19937 rng(c.seqlen * 3 + c.dstate * 11 + c.head_dim);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> uniform(0.f, 1.f);
    const int64_t tokens = int64_t{c.batch} * c.seqlen;
    x.resize(tokens * c.heads * c.head_dim), z.resize(x.size()), y.resize(x.size());
    B.resize(tokens * c.groups * c.dstate), C.resize(B.size());
    for (std::vector<S>* v : {&x, &z, &B, &C}) {
      for (S& e : *v) StoreAs(&e, normal(rng));
    }
    for (S& e : y) StoreAs(&e, NAN);
    dt.resize(tokens * c.heads), A.resize(c.heads), D.resize(c.D_per_dim ? c.heads * c.head_dim : c.heads);
    bias.resize(c.heads), initial.resize(int64_t{c.batch} * c.heads * c.head_dim * c.dstate);
    for (float& e : dt) e = normal(rng) - 1;
    for (float& e : A) e = -(0.5f + 3 * uniform(rng));
    for (float& e : D) e = normal(rng);
    for (float& e : bias) e = 0.3f * normal(rng);
    for (float& e : initial) e = normal(rng);
    initial_before = initial;
    final_state.assign(initial.size(), NAN);
    final_out = c.final_over_initial ? initial.data() : final_state.data();
  }

  // The C API's parameters of the case (x, z, B, C and y as S, whatever the pointers' declared type), as the chunked
  // form's host side reads them.
  ls_ssd_scan_params Params() {
    ls_ssd_scan_params params = {};
    params.batch = c.batch, params.seqlen = c.seqlen, params.heads = c.heads, params.head_dim = c.head_dim;
    params.groups = c.groups, params.dstate = c.dstate;
    params.x = reinterpret_cast<const float*>(x.data()), params.B = reinterpret_cast<const float*>(B.data());
    params.C = reinterpret_cast<const float*>(C.data()), params.z = c.z ? reinterpret_cast<const float*>(z.data()) : nullptr;
    params.dt = dt.data(), params.A = A.data(), params.D = D.data(), params.D_per_dim = c.D_per_dim;
    params.dt_bias = bias.data(), params.dt_softplus = c.softplus, params.dt_min = kDtMin, params.dt_max = kDtMax;
    params.y = reinterpret_cast<float*>(y.data());
    return params;
  }

  // The relative L2 errors of y and of the final state against the recurrence in double.
  std::pair<double, double> Errors() const {
    const int64_t L = c.seqlen, H = c.heads, P = c.head_dim, G = c.groups, N = c.dstate;
    double y_error = 0, y_norm = 0, s_error = 0, s_norm = 0;
    std::vector<double> state(N);
    for (int64_t b = 0; b < c.batch; ++b) {
      for (int64_t h = 0; h < H; ++h) {
        const int64_t g = h / (H / G);
        for (int64_t p = 0; p < P; ++p) {
          const int64_t row = ((b * H + h) * P + p) * N;
          for (int64_t n = 0; n < N; ++n) state[n] = c.initial ? initial_before[row + n] : 0.0;
          for (int64_t t = 0; t < L; ++t) {
            const double step = StepSize(dt[(b * L + t) * H + h], bias[h], c.softplus, kDtMin, kDtMax);
            const double decay = std::exp(step * A[h]), xv = ToFloat(x[((b * L + t) * H + h) * P + p]);
            double sum = (c.D_per_dim ? D[h * P + p] : D[h]) * xv;
            for (int64_t n = 0; n < N; ++n) {
              const int64_t bc = ((b * L + t) * G + g) * N + n;
              state[n] = decay * state[n] + step * xv * ToFloat(B[bc]);
              sum += state[n] * ToFloat(C[bc]);
            }
            const int64_t at = ((b * L + t) * H + h) * P + p;
            if (c.z) sum *= Silu(ToFloat(z[at]));
            const double e = ToFloat(y[at]) - sum;
            y_error += e * e, y_norm += sum * sum;
          }
          for (int64_t n = 0; n < N; ++n) {
            const double e = final_out[row + n] - state[n];
            s_error += e * e, s_norm += state[n] * state[n];
          }
        }
      }
    }
    return {RelativeL2(y_error, y_norm), RelativeL2(s_error, s_norm)};
  }

  // Prints the case's line (`kernels` says what ran) and returns whether it failed: relative L2 error above 2e-5, y's
  // above 4e-3 in bfloat16 (whose rounding of y alone gives about 1.5e-3).
  bool Report(const char* kernels) const {
    const auto [y_error, state_error] = Errors();
    const bool bf16 = sizeof(S) == 2, ok = y_error <= (bf16 ? 4e-3 : 2e-5) && state_error <= 2e-5;
    printf("%s B%d L%d H%d P%d G%d N%d%s%s%s%s%s: rel L2 y %.2g state %.2g %s\n", kernels, c.batch, c.seqlen, c.heads,
           c.head_dim, c.groups, c.dstate, c.D_per_dim ? ", D per dim" : "", c.z ? ", z" : "", c.softplus ? ", softplus" : "",
           c.initial ? (c.final_over_initial ? ", initial state (final written over it)" : ", initial state") : "",
           bf16 ? ", bfloat16" : "", y_error, state_error, ok ? "ok" : "FAIL");
    return !ok;
  }
};

// The chunked form's cases (ssd_scan_chunked_emulated.cc: float32; ssd_scan_chunked_bf16_emulated.cc: bf16); the
// number that failed.
int ChunkedCases();
int ChunkedBf16Cases();
int ChunkedBf16CasesSm90();   // ssd_scan_chunked_bf16_sm90_emulated.cc: bf16 on sm_90's paths
int ChunkedBf16CasesSm90a();  // ssd_scan_chunked_bf16_sm90a_emulated.cc: and on sm_90a's

}  // namespace ssd_emulated

#endif  // LONGSEQ_CUDA_SSD_SCAN_EMULATED_H_
