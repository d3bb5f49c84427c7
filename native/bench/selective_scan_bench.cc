// Bench cases for selectiveScan and selectiveScanStep at DESIGN §6, with the options Mamba uses (softplus,
// D, z, deltaBias).
//
// Work model, per output element (b, d, t) and state n: exp(dt*A) plus 3 FMAs (dt*u*B, decay*h + ..,
// y += C*h) = 6 flops counted (the exp is not counted: the %FMA column understates the kernel's real use).
// Compulsory traffic: u, delta, z read and y written once (16 bytes per element) plus B and C.
#include <stdio.h>

#include "bench/bench.h"
#include "longseq/longseq.h"

namespace ls_bench {
namespace {

struct ScanShape {
  int64_t batch, dim, dstate, seqlen;
};

void BenchScan(const ScanShape& s, int threads, double min_seconds, std::vector<Result>* results) {
  const std::string config = Format("B%lld D%lld N%lld L%lld", (long long)s.batch, (long long)s.dim,
                                    (long long)s.dstate, (long long)s.seqlen);
  if (!Selected("selectiveScan", config)) return;
  const int64_t bdl = s.batch * s.dim * s.seqlen, bnl = s.batch * s.dstate * s.seqlen;
  const double bytes = 16.0 * bdl + 8.0 * bnl;
  const int copies = RotationCopies(bytes);
  struct Inputs {
    std::vector<float> u, delta, z, B, C;
  };
  std::vector<Inputs> in(copies);
  for (int c = 0; c < copies; ++c) {
    in[c].u = RandomFloats(bdl, -1, 1, 10 * c + 1);
    in[c].delta = RandomFloats(bdl, -3, 0, 10 * c + 2);
    in[c].z = RandomFloats(bdl, -2, 2, 10 * c + 3);
    in[c].B = RandomFloats(bnl, -1, 1, 10 * c + 4);
    in[c].C = RandomFloats(bnl, -1, 1, 10 * c + 5);
  }
  const auto A = RandomFloats(s.dim * s.dstate, -8, -0.5f, 6);
  const auto D = RandomFloats(s.dim, -1, 1, 7);
  const auto bias = RandomFloats(s.dim, -1, 1, 8);
  std::vector<float> y(bdl), final_state(s.batch * s.dim * s.dstate);

  ls_selective_scan_params p = {};
  p.threads = threads;
  p.batch = s.batch;
  p.dim = s.dim;
  p.dstate = s.dstate;
  p.seqlen = s.seqlen;
  p.groups = 1;
  const ls_row_strides bdl_strides = {s.dim * s.seqlen, s.seqlen};
  const ls_row_strides bc_strides = {s.dstate * s.seqlen, s.seqlen};
  p.u_strides = p.delta_strides = p.z_strides = p.y_strides = bdl_strides;
  p.B_strides = p.C_strides = bc_strides;
  p.A = A.data();
  p.D = D.data();
  p.delta_bias = bias.data();
  p.delta_softplus = 1;
  p.y = y.data();
  p.final_state = final_state.data();

  Result r;
  r.op = "selectiveScan";
  r.config = config;
  r.threads = threads;
  r.elements = static_cast<double>(bdl);
  r.flops = 6.0 * bdl * s.dstate;
  r.bytes = bytes;
  bool failed = false;
  Time(
      [&](int c) {
        p.u = in[c].u.data();
        p.delta = in[c].delta.data();
        p.z = in[c].z.data();
        p.B = in[c].B.data();
        p.C = in[c].C.data();
        if (ls_selective_scan_cpu(&p) != LS_OK) failed = true;
      },
      copies, min_seconds, 3, &r.median_ms, &r.min_ms, &r.runs);
  if (failed) fprintf(stderr, "selectiveScan %s failed: %s\n", config, ls_last_error());
  results->push_back(r);
}

void BenchStep(int64_t batch, int64_t dim, int64_t dstate, int threads, double min_seconds,
               std::vector<Result>* results) {
  const std::string config = Format("B%lld D%lld N%lld", (long long)batch, (long long)dim, (long long)dstate);
  if (!Selected("selectiveScanStep", config)) return;
  const int64_t bd = batch * dim, bdn = bd * dstate;
  const double bytes = 8.0 * bdn + 16.0 * bd + 8.0 * batch * dstate;  // state read + written dominates
  const int copies = RotationCopies(bytes);
  std::vector<std::vector<float>> state(copies);
  for (int c = 0; c < copies; ++c) state[c] = RandomFloats(bdn, -1, 1, 20 + c);
  const auto x = RandomFloats(bd, -1, 1, 31), delta = RandomFloats(bd, -3, 0, 32), z = RandomFloats(bd, -2, 2, 33);
  const auto B = RandomFloats(batch * dstate, -1, 1, 34), C = RandomFloats(batch * dstate, -1, 1, 35);
  const auto A = RandomFloats(dim * dstate, -8, -0.5f, 36), D = RandomFloats(dim, -1, 1, 37);
  const auto bias = RandomFloats(dim, -1, 1, 38);
  std::vector<float> y(bd);
  ls_selective_scan_step_params p = {};
  p.threads = threads;
  p.batch = batch;
  p.dim = dim;
  p.dstate = dstate;
  p.groups = 1;
  p.x = x.data();
  p.delta = delta.data();
  p.z = z.data();
  p.B = B.data();
  p.C = C.data();
  p.A = A.data();
  p.D = D.data();
  p.delta_bias = bias.data();
  p.delta_softplus = 1;
  p.y = y.data();

  Result r;
  r.op = "selectiveScanStep";
  r.config = config;
  r.threads = threads;
  r.elements = static_cast<double>(bd);
  r.flops = 6.0 * bdn;
  r.bytes = bytes;
  bool failed = false;
  Time(
      [&](int c) {
        p.state = state[c].data();
        if (ls_selective_scan_step_cpu(&p) != LS_OK) failed = true;
      },
      copies, min_seconds, 10, &r.median_ms, &r.min_ms, &r.runs);
  if (failed) fprintf(stderr, "selectiveScanStep %s failed: %s\n", config, ls_last_error());
  results->push_back(r);
}

}  // namespace

void BenchSelectiveScan(int threads, double min_seconds, std::vector<Result>* results) {
  for (int64_t L : {1024, 4096, 16384}) BenchScan({1, 1536, 16, L}, threads, min_seconds, results);
  BenchScan({8, 1536, 16, 2048}, threads, min_seconds, results);
  BenchStep(64, 2048, 16, threads, min_seconds, results);
}

}  // namespace ls_bench
