// longseq-delta-rule-emulated: the CUDA delta rule's recurrent kernels (delta_rule.cu: the token-by-token rule that
// short sequences and wide keys take, and the decode step's two kernels) run on the CPU (cuda/emulate.h) against the
// recurrence in double: key dims of one warp's rows and several (padded), value dims spanning column groups, chunks of
// tokens past the staging size, gated and plain, L2-normalized q and k, grouped value heads, initial and final states
// (the step's written over the one it reads), float32 and bfloat16 storage. Prints a line per case and exits with the
// number that failed (relative L2 error above 2e-5; o above 4e-3 in bfloat16, whose rounding of o alone gives about
// 1.5e-3). The chunked form (delta_rule_chunked.cu) is on tensor cores, which this emulation does not cover.
// test/cudaEmulated.test.ts runs it.
#define LONGSEQ_CUDA_EMULATE
#include <cstdio>
#include <random>

#include "cuda/delta_rule.cu"

namespace {

using namespace ls::cuda;

enum class Kernel { kRule, kStep, kStepQuads };

struct Case {
  int batch, seqlen, heads, value_heads, K, V;
  Kernel kernel;
  bool gated, l2norm, initial, final_over_initial;
};

double RelativeL2(double error, double norm) { return std::sqrt(error / std::max(norm, 1e-300)); }

int failed = 0;

template <typename S>
void Run(const Case& c) {
  std::mt19937 rng(c.seqlen * 5 + c.K * 3 + c.V);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  const int64_t tokens = int64_t{c.batch} * c.seqlen, K = c.K, V = c.V, heads = c.heads, hv_count = c.value_heads;
  std::vector<S> q(tokens * heads * K), k(q.size()), v(tokens * hv_count * V), o(v.size());
  // Without L2 normalization the keys are scaled so that the state stays bounded.
  const float key_scale = c.l2norm ? 1.f : 1.f / std::sqrt(float(K));
  for (S& x : q) StoreAs(&x, normal(rng) * key_scale);
  for (S& x : k) StoreAs(&x, normal(rng) * key_scale);
  for (S& x : v) StoreAs(&x, normal(rng));
  for (S& x : o) StoreAs(&x, NAN);
  std::vector<float> beta(tokens * hv_count), g(beta.size());
  for (float& b : beta) b = uniform(rng);
  for (float& x : g) x = -0.3f * uniform(rng);
  std::vector<float> initial(int64_t{c.batch} * hv_count * K * V), final_state(initial.size(), NAN);
  for (float& h : initial) h = 0.5f * normal(rng);
  const std::vector<float> initial_before = initial;
  float* final_out = c.final_over_initial ? initial.data() : final_state.data();
  const float scale = 1.f / std::sqrt(float(K));
  const RuleArgs<S> a = {c.batch,  c.seqlen,  c.heads,     c.value_heads,
                         K,        V,         q.data(),    k.data(),
                         v.data(), beta.data(), c.gated ? g.data() : nullptr, c.initial ? initial.data() : nullptr,
                         o.data(), final_out, scale,       c.l2norm};
  const int warps = static_cast<int>((K + kRows - 1) / kRows);
  const int groups = static_cast<int>((V + kColumns - 1) / kColumns);
  const int blocks = static_cast<int>(c.batch * hv_count * groups);
  if (c.kernel == Kernel::kRule) {
    emulate::Launch(blocks, 32 * warps, SharedBytes(warps * kRows, warps), [&] { DeltaRuleKernel<S>(a, groups); });
  } else if (c.kernel == Kernel::kStep) {
    emulate::Launch(blocks, 32 * warps, 0, [&] { DeltaStepKernel<S>(a, groups); });
  } else {
    const int quad_groups = static_cast<int>((V + 4 * kColumns - 1) / (4 * kColumns));
    emulate::Launch(static_cast<int>(c.batch * hv_count * quad_groups), 32 * warps, 0,
                    [&] { DeltaStepQuadKernel<S>(a, quad_groups); });
  }

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
  const double o_rel = RelativeL2(o_error, o_norm), s_rel = RelativeL2(s_error, s_norm);
  const bool bf16 = sizeof(S) == 2, ok = o_rel <= (bf16 ? 4e-3 : 2e-5) && s_rel <= 2e-5;
  failed += !ok;
  printf("%s B%d T%d H%d HV%d K%d V%d%s%s%s%s%s: rel L2 o %.2g state %.2g %s\n",
         c.kernel == Kernel::kRule ? "rule" : c.kernel == Kernel::kStep ? "step" : "step (quads)", c.batch, c.seqlen,
         c.heads, c.value_heads, c.K, c.V, c.gated ? ", gated" : "", c.l2norm ? ", l2norm" : "",
         c.initial ? ", initial state" : "", c.final_over_initial ? " (final written over it)" : "",
         bf16 ? ", bfloat16" : "", o_rel, s_rel, ok ? "ok" : "FAIL");
}

}  // namespace

int main() {
  const Case cases[] = {
      {1, 70, 1, 2, 40, 50, Kernel::kRule, true, true, true, false},  // 3 warps (K padded to 48), 2 column groups
      {2, 33, 2, 2, 16, 32, Kernel::kRule, false, false, false, false},
      {1, 40, 1, 1, 128, 20, Kernel::kRule, true, true, true, false},
      {2, 1, 1, 2, 40, 50, Kernel::kStep, true, true, true, true},
      {1, 1, 2, 4, 128, 36, Kernel::kStep, false, true, true, false},
      {2, 1, 1, 2, 40, 132, Kernel::kStepQuads, true, true, true, true},  // 2 quad groups, the second partial
      {1, 1, 2, 2, 16, 8, Kernel::kStepQuads, false, false, true, false},
  };
  for (const Case& c : cases) Run<float>(c);
  Run<__nv_bfloat16>(cases[0]);
  Run<__nv_bfloat16>(cases[3]);
  Run<__nv_bfloat16>(cases[5]);
  return failed;
}
