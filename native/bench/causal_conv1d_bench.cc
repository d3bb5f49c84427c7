// Bench case for causalConv1d at DESIGN §6 (B1 D1536 L4096 W4, bias, SiLU). Flops: W multiply-adds per
// output; bytes: x read and y written once.
#include <stdio.h>

#include "bench/bench.h"
#include "longseq/longseq.h"

namespace ls_bench {

void BenchCausalConv1d(int threads, double min_seconds, std::vector<Result>* results) {
  const int64_t B = 1, D = 1536, L = 4096, W = 4;
  if (!Selected("causalConv1d", "B1 D1536 L4096 W4")) return;
  const int64_t n = B * D * L;
  const double bytes = 8.0 * n;
  const int copies = RotationCopies(bytes);
  std::vector<std::vector<float>> x(copies);
  for (int c = 0; c < copies; ++c) x[c] = RandomFloats(n, -1, 1, 300 + c);
  const auto weight = RandomFloats(D * W, -1, 1, 311), bias = RandomFloats(D, -1, 1, 312);
  std::vector<float> y(n);
  ls_causal_conv1d_params p = {};
  p.threads = threads;
  p.batch = B;
  p.dim = D;
  p.seqlen = L;
  p.width = W;
  p.weight = weight.data();
  p.bias = bias.data();
  p.activation = LS_ACTIVATION_SILU;
  p.y = y.data();
  Result r;
  r.op = "causalConv1d";
  r.config = "B1 D1536 L4096 W4";
  r.threads = threads;
  r.elements = static_cast<double>(n);
  r.flops = 2.0 * W * n;
  r.bytes = bytes;
  bool failed = false;
  Time(
      [&](int c) {
        p.x = x[c].data();
        if (ls_causal_conv1d_cpu(&p) != LS_OK) failed = true;
      },
      copies, min_seconds, 10, &r.median_ms, &r.min_ms, &r.runs);
  if (failed) fprintf(stderr, "causalConv1d failed: %s\n", ls_last_error());
  results->push_back(r);
}

}  // namespace ls_bench
