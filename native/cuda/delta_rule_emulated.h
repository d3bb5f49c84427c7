// What longseq-delta-rule-emulated's two parts share (delta_rule_emulated.cc: the recurrent kernels;
// delta_rule_chunked_emulated.cc: the chunked form): a case's random inputs, the recurrence in double, and the report
// line. Included after cuda/emulate.h (through a kernel source).
#ifndef LONGSEQ_CUDA_DELTA_RULE_EMULATED_H_
#define LONGSEQ_CUDA_DELTA_RULE_EMULATED_H_

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace delta_emulated {

using ls::cuda::StoreAs;
using ls::cuda::emulate::RelativeL2;
using ls::cuda::ToFloat;

struct Case {
  int batch, seqlen, heads, value_heads, K, V;
  bool gated, l2norm, initial, final_over_initial;
};


// A case's inputs: q, k, v stored as S (o too, poisoned with NaN), beta, g and the states float32; the final state
// written over the initial one when the case says so.
template <typename S>
struct Problem {
  Case c;
  std::vector<S> q, k, v, o;
  std::vector<float> beta, g, initial, initial_before, final_state;
  float* final_out;
  float scale;

  explicit Problem(const Case& kase) : c(kase), scale(1.f / std::sqrt(float(kase.K))) {
    std::mt19937 rng(c.seqlen * 5 + c.K * 3 + c.V);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> uniform(0.f, 1.f);
    const int64_t tokens = int64_t{c.batch} * c.seqlen;
    q.resize(tokens * c.heads * c.K), k.resize(q.size()), v.resize(tokens * c.value_heads * c.V), o.resize(v.size());
    // Without L2 normalization the keys are scaled so that the state stays bounded.
    const float key_scale = c.l2norm ? 1.f : 1.f / std::sqrt(float(c.K));
    for (S& x : q) StoreAs(&x, normal(rng) * key_scale);
    for (S& x : k) StoreAs(&x, normal(rng) * key_scale);
    for (S& x : v) StoreAs(&x, normal(rng));
    for (S& x : o) StoreAs(&x, NAN);
    beta.resize(tokens * c.value_heads), g.resize(beta.size());
    for (float& b : beta) b = uniform(rng);
    for (float& x : g) x = -0.3f * uniform(rng);
    initial.resize(int64_t{c.batch} * c.value_heads * c.K * c.V);
    for (float& h : initial) h = 0.5f * normal(rng);
    initial_before = initial;
    final_state.assign(initial.size(), NAN);
    final_out = c.final_over_initial ? initial.data() : final_state.data();
  }

  // The relative L2 errors of o and of the final state against the recurrence in double.
  std::pair<double, double> Errors() const {
    const int64_t K = c.K, V = c.V, heads = c.heads, hv_count = c.value_heads;
    double o_error = 0, o_norm = 0, s_error = 0, s_norm = 0;
    std::vector<double> state(K * V), qn(K), kn(K), sk(V);
    for (int b = 0; b < c.batch; ++b) {
      for (int64_t hv = 0; hv < hv_count; ++hv) {
        const int64_t h = hv / (hv_count / heads), bh = b * hv_count + hv;
        for (int64_t e = 0; e < K * V; ++e) state[e] = c.initial ? initial_before[bh * K * V + e] : 0.0;
        for (int t = 0; t < c.seqlen; ++t) {
          const int64_t token = int64_t{b} * c.seqlen + t, qk = (token * heads + h) * K;
          double qq = 0, kk = 0;
          for (int64_t i = 0; i < K; ++i) {
            qn[i] = ToFloat(q[qk + i]), kn[i] = ToFloat(k[qk + i]);
            qq += qn[i] * qn[i], kk += kn[i] * kn[i];
          }
          for (int64_t i = 0; i < K && c.l2norm; ++i) qn[i] /= std::sqrt(qq + 1e-6), kn[i] /= std::sqrt(kk + 1e-6);
          const int64_t at = token * hv_count + hv;
          const double d = c.gated ? std::exp(double(g[at])) : 1.0;
          for (int64_t j = 0; j < V; ++j) {
            sk[j] = 0;
            for (int64_t i = 0; i < K; ++i) sk[j] += d * state[i * V + j] * kn[i];
          }
          for (int64_t j = 0; j < V; ++j) {
            const double vp = beta[at] * (ToFloat(v[at * V + j]) - sk[j]);
            double out = 0;
            for (int64_t i = 0; i < K; ++i) {
              state[i * V + j] = d * state[i * V + j] + kn[i] * vp;
              out += state[i * V + j] * qn[i];
            }
            out *= scale;
            const double e = ToFloat(o[at * V + j]) - out;
            o_error += e * e, o_norm += out * out;
          }
        }
        for (int64_t e = 0; e < K * V; ++e) {
          const double x = final_out[bh * K * V + e] - state[e];
          s_error += x * x, s_norm += state[e] * state[e];
        }
      }
    }
    return {RelativeL2(o_error, o_norm), RelativeL2(s_error, s_norm)};
  }

  // Prints the case's line (`kernels` says what ran) and returns whether it failed: relative L2 error of o above
  // `o_bound`, of the state above `state_bound`.
  bool Report(const char* kernels, double o_bound, double state_bound = 2e-5) const {
    const auto [o_error, state_error] = Errors();
    const bool ok = o_error <= o_bound && state_error <= state_bound;
    printf("%s B%d T%d H%d HV%d K%d V%d%s%s%s%s%s: rel L2 o %.2g state %.2g %s\n", kernels, c.batch, c.seqlen, c.heads,
           c.value_heads, c.K, c.V, c.gated ? ", gated" : "", c.l2norm ? ", l2norm" : "",
           c.initial ? ", initial state" : "", c.final_over_initial ? " (final written over it)" : "",
           sizeof(S) == 2 ? ", bfloat16" : "", o_error, state_error, ok ? "ok" : "FAIL");
    return !ok;
  }
};

// The chunked form's cases (delta_rule_chunked_emulated.cc, and delta_rule_chunked_sm90_emulated.cc on the sm_90
// paths); the number that failed.
int ChunkedCases();
int ChunkedCasesSm90();
int ChunkedCasesSm90a();  // the walk on warpgroup products (delta_rule_chunked_sm90a_emulated.cc)

}  // namespace delta_emulated

#endif  // LONGSEQ_CUDA_DELTA_RULE_EMULATED_H_
