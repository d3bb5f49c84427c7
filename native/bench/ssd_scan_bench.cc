// Bench cases for ssdScan at DESIGN §6 (softplus dt, D, z, G = 1), both algorithms. Flops: the recurrence's
// 2 P N multiply-adds per token and head (the chunked form does more; its %FMA understates it). Bytes: x, z
// read and y written (12 P per token and head) plus dt, B and C.
#include <math.h>
#include <stdio.h>

#include "bench/bench.h"
#include "longseq/longseq.h"

namespace ls_bench {
namespace {

void BenchSsd(int64_t B, int64_t L, int64_t H, int64_t P, int64_t N, int algorithm, int threads, double min_seconds,
              std::vector<Result>* results) {
  const std::string op = algorithm == LS_SSD_CHUNKED ? "ssdScan chunked" : "ssdScan recurrent";
  const std::string config =
      Format("B%lld L%lld H%lld P%lld N%lld", (long long)B, (long long)L, (long long)H, (long long)P, (long long)N);
  if (!Selected(op, config)) return;
  const int64_t xs = B * L * H * P, bn = B * L * N;
  const double bytes = 12.0 * xs + 4.0 * (B * L * H + 2 * bn);
  const int copies = RotationCopies(bytes);
  struct Inputs {
    std::vector<float> x, z, dt, Bm, Cm;
  };
  std::vector<Inputs> in(copies);
  for (int c = 0; c < copies; ++c) {
    in[c].x = RandomFloats(xs, -1, 1, 500 + 10 * c);
    in[c].z = RandomFloats(xs, -2, 2, 501 + 10 * c);
    in[c].dt = RandomFloats(B * L * H, -3, 0, 502 + 10 * c);
    in[c].Bm = RandomFloats(bn, -1, 1, 503 + 10 * c);
    in[c].Cm = RandomFloats(bn, -1, 1, 504 + 10 * c);
  }
  const auto A = RandomFloats(H, -4, -0.5f, 510), D = RandomFloats(H, -1, 1, 511), bias = RandomFloats(H, -1, 1, 512);
  std::vector<float> y(xs);
  ls_ssd_scan_params p = {};
  p.threads = threads;
  p.batch = B;
  p.seqlen = L;
  p.heads = H;
  p.head_dim = P;
  p.groups = 1;
  p.dstate = N;
  p.A = A.data();
  p.D = D.data();
  p.dt_bias = bias.data();
  p.dt_softplus = 1;
  p.dt_min = 0.0f;
  p.dt_max = INFINITY;
  p.chunk_size = 256;
  p.algorithm = algorithm;
  p.y = y.data();
  Result r;
  r.op = op;
  r.config = config;
  r.threads = threads;
  r.elements = static_cast<double>(B * L * H);
  r.flops = 4.0 * B * L * H * P * N;
  r.bytes = bytes;
  bool failed = false;
  Time(
      [&](int c) {
        p.x = in[c].x.data();
        p.z = in[c].z.data();
        p.dt = in[c].dt.data();
        p.B = in[c].Bm.data();
        p.C = in[c].Cm.data();
        if (ls_ssd_scan_cpu(&p) != LS_OK) failed = true;
      },
      copies, min_seconds, 3, &r.median_ms, &r.min_ms, &r.runs);
  if (failed) fprintf(stderr, "ssdScan %s failed: %s\n", config, ls_last_error());
  results->push_back(r);
}

}  // namespace

void BenchSsdScan(int threads, double min_seconds, std::vector<Result>* results) {
  for (int algorithm : {LS_SSD_RECURRENT, LS_SSD_CHUNKED}) {
    BenchSsd(1, 4096, 32, 64, 128, algorithm, threads, min_seconds, results);
    BenchSsd(8, 2048, 24, 64, 128, algorithm, threads, min_seconds, results);
  }
}

}  // namespace ls_bench
