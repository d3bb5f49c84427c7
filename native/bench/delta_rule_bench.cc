// Bench cases for deltaRule (gated, both algorithms) and deltaRuleStep at DESIGN §6.
//
// "elements" are token·heads. Flops are each algorithm's own arithmetic, so %FMA says how well it uses the
// machine: the recurrence does 6 K V per token·head (S^T k, S^T q, decay + rank-1 update); the chunked form
// per chunk of C tokens 2 (2 C^2 K + C^2 (K + V) / 2 + C^2 V + 3 C K V). Bytes: q, k, v read, o written.
#include <stdio.h>

#include "bench/bench.h"
#include "longseq/longseq.h"

namespace ls_bench {
namespace {

constexpr int64_t kChunk = 64;

void BenchRule(int64_t T, int64_t H, int64_t K, int64_t V, int algorithm, int threads, double min_seconds,
               std::vector<Result>* results) {
  const std::string op = algorithm == LS_DELTA_CHUNKED ? "deltaRule chunked" : "deltaRule recurrent";
  const std::string config = Format("B1 H%lld K=V=%lld T%lld", (long long)H, (long long)K, (long long)T);
  if (!Selected(op, config)) return;
  const int64_t B = 1;
  const int64_t qk = B * T * H * K, vo = B * T * H * V, bh = B * T * H;
  const double bytes = 4.0 * (2 * qk + 2 * vo + 2 * bh);
  const int copies = RotationCopies(bytes);
  struct Inputs {
    std::vector<float> q, k, v, beta, g;
  };
  std::vector<Inputs> in(copies);
  for (int c = 0; c < copies; ++c) {
    in[c].q = RandomFloats(qk, -1, 1, 100 * c + 1);
    in[c].k = RandomFloats(qk, -1, 1, 100 * c + 2);
    in[c].v = RandomFloats(vo, -1, 1, 100 * c + 3);
    in[c].beta = RandomFloats(bh, 0, 1, 100 * c + 4);
    in[c].g = RandomFloats(bh, -0.5f, 0, 100 * c + 5);
  }
  std::vector<float> o(vo), final_state(B * H * K * V);
  ls_delta_rule_params p = {};
  p.threads = threads;
  p.batch = B;
  p.seqlen = T;
  p.heads = p.value_heads = H;
  p.key_dim = K;
  p.value_dim = V;
  p.scale = 1.0f;
  p.use_qk_l2norm = 1;
  p.chunk_size = kChunk;
  p.algorithm = algorithm;
  p.o = o.data();
  p.final_state = final_state.data();

  Result r;
  r.op = op;
  r.config = config;
  r.threads = threads;
  r.elements = static_cast<double>(bh);
  const double C = kChunk;
  r.flops = algorithm == LS_DELTA_CHUNKED
                ? bh / C * 2 * (2 * C * C * K + C * C * (K + V) / 2 + C * C * V + 3 * C * K * V)
                : bh * 6.0 * K * V;
  r.bytes = bytes;
  bool failed = false;
  Time(
      [&](int c) {
        p.q = in[c].q.data();
        p.k = in[c].k.data();
        p.v = in[c].v.data();
        p.beta = in[c].beta.data();
        p.g = in[c].g.data();
        if (ls_delta_rule_cpu(&p) != LS_OK) failed = true;
      },
      copies, min_seconds, 3, &r.median_ms, &r.min_ms, &r.runs);
  if (failed) fprintf(stderr, "deltaRule %s failed: %s\n", config, ls_last_error());
  results->push_back(r);
}

void BenchStep(int64_t B, int64_t H, int64_t K, int64_t V, int threads, double min_seconds,
               std::vector<Result>* results) {
  const std::string config = Format("B%lld H%lld K=V=%lld", (long long)B, (long long)H, (long long)K);
  if (!Selected("deltaRuleStep", config)) return;
  const int64_t state_size = B * H * K * V;
  const double bytes = 8.0 * state_size + 4.0 * B * H * (2 * K + 2 * V + 2);
  const int copies = RotationCopies(bytes);
  std::vector<std::vector<float>> state(copies);
  for (int c = 0; c < copies; ++c) state[c] = RandomFloats(state_size, -1, 1, 200 + c);
  const auto q = RandomFloats(B * H * K, -1, 1, 211), k = RandomFloats(B * H * K, -1, 1, 212);
  const auto v = RandomFloats(B * H * V, -1, 1, 213), beta = RandomFloats(B * H, 0, 1, 214);
  const auto g = RandomFloats(B * H, -0.5f, 0, 215);
  std::vector<float> o(B * H * V);
  ls_delta_rule_step_params p = {};
  p.threads = threads;
  p.batch = B;
  p.heads = p.value_heads = H;
  p.key_dim = K;
  p.value_dim = V;
  p.q = q.data();
  p.k = k.data();
  p.v = v.data();
  p.beta = beta.data();
  p.g = g.data();
  p.scale = 1.0f;
  p.use_qk_l2norm = 1;
  p.o = o.data();

  Result r;
  r.op = "deltaRuleStep";
  r.config = config;
  r.threads = threads;
  r.elements = static_cast<double>(B * H);
  r.flops = 6.0 * state_size;
  r.bytes = bytes;
  bool failed = false;
  Time(
      [&](int c) {
        p.state = state[c].data();
        if (ls_delta_rule_step_cpu(&p) != LS_OK) failed = true;
      },
      copies, min_seconds, 10, &r.median_ms, &r.min_ms, &r.runs);
  if (failed) fprintf(stderr, "deltaRuleStep %s failed: %s\n", config, ls_last_error());
  results->push_back(r);
}

}  // namespace

void BenchDeltaRule(int threads, double min_seconds, std::vector<Result>* results) {
  for (int algorithm : {LS_DELTA_RECURRENT, LS_DELTA_CHUNKED}) {
    for (int64_t T : {1024, 4096, 16384}) BenchRule(T, 8, 64, 64, algorithm, threads, min_seconds, results);
    for (int64_t T : {1024, 4096, 16384}) BenchRule(T, 8, 128, 128, algorithm, threads, min_seconds, results);
  }
  BenchStep(64, 16, 128, 128, threads, min_seconds, results);
}

}  // namespace ls_bench
