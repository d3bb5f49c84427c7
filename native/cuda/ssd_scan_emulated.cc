// longseq-ssd-scan-emulated: the CUDA SSD scan's kernels that this emulation covers run on the CPU (cuda/emulate.h)
// against the recurrence in double. Here: the recurrent kernel (ssd_scan.cu: the step, short sequences and dstate up
// to 256) at each states-per-lane count (1, 2, 4, 8) and lanes per row (1 to 32), rows past head_dim, chunks of tokens
// past the staging size, groups, D per head and per dim, the z gate, dt bias / softplus / clamp, initial and final
// states (the final written over the initial one), float32 and bfloat16 storage; and the chunked form's decay kernel
// (ssd_scan_chunked.h) against the cumulative decays. ssd_scan_chunked_emulated.cc and
// ssd_scan_chunked_bf16_emulated.cc add the chunked form's kernels (float32 on tensor cores in 3xTF32; bf16 through
// ldmatrix, off sm_90). Prints a line per case and exits with the number that failed.
// test/cudaEmulated.test.ts runs it.
#define LONGSEQ_CUDA_EMULATE
#include <cstdio>
#include <random>

#include "cuda/ssd_scan.cu"
#include "cuda/ssd_scan_emulated.h"

namespace {

using namespace ls::cuda;

using namespace ssd_emulated;

int failed = 0;

// SsdKernel launched as Scan launches it: lanes per row enough that each holds at most 8 states.
template <typename S>
void Scan(const Case& c) {
  Problem<S> p(c);
  const int64_t N = c.dstate;
  const SsdArgs<S> a = {c.batch,      c.seqlen,     c.heads,     c.head_dim,   c.groups,
                        N,            p.x.data(),   p.B.data(),  p.C.data(),   c.z ? p.z.data() : nullptr,
                        p.dt.data(),  p.A.data(),   p.D.data(),  p.bias.data(), c.initial ? p.initial.data() : nullptr,
                        p.y.data(),   p.final_out,  c.D_per_dim, c.softplus,   kDtMin,
                        kDtMax};
  int lanes_log2 = 0;
  while ((1 << lanes_log2) * 8 < N) ++lanes_log2;
  const int per = static_cast<int>((N + (1 << lanes_log2) - 1) >> lanes_log2);
  const int per_lane = per <= 1 ? 1 : per <= 2 ? 2 : per <= 4 ? 4 : 8;
  const int rows = kThreads >> lanes_log2, width = (1 << lanes_log2) * per_lane;
  const int chunk = ChunkTokens(width, rows);
  const size_t bytes = sizeof(float) * (chunk * (2 * width + 3 * rows + 2));
  const int blocks = static_cast<int>(c.batch * c.heads * ((c.head_dim + rows - 1) / rows));
  auto launch = [&](auto kernel_per_lane) {
    emulate::Launch(blocks, kThreads, bytes, [&] { SsdKernel<S, decltype(kernel_per_lane)::value>(a, lanes_log2, chunk); });
  };
  if (per_lane == 1) {
    launch(std::integral_constant<int, 1>());
  } else if (per_lane == 2) {
    launch(std::integral_constant<int, 2>());
  } else if (per_lane == 4) {
    launch(std::integral_constant<int, 4>());
  } else {
    launch(std::integral_constant<int, 8>());
  }
  char what[100];
  snprintf(what, sizeof what, "recurrent scan (a row's states over %d lanes, %d each; chunks of %d)", 1 << lanes_log2,
           per_lane, chunk);
  failed += p.Report(what);
}

// SsdDecayKernel over every chunk of a sequence (one segment): the step sizes, the cumulative log2-decays gamma
// within each chunk, and the tokens' weights and the chunks' decays.
void Decays(int batch, int seqlen, int heads) {
  std::mt19937 rng(seqlen + heads);
  std::normal_distribution<float> normal;
  const int64_t chunks = (seqlen + kSsdChunk - 1) / kSsdChunk, records = int64_t{batch} * heads * chunks;
  std::vector<float> dt(int64_t{batch} * seqlen * heads), A(heads), bias(heads);
  for (float& e : dt) e = normal(rng) - 2;
  for (float& e : A) e = -std::exp(normal(rng));
  for (float& e : bias) e = 0.3f * normal(rng);
  SsdChunkArgs<float> a = {};
  a.batch = batch, a.seqlen = seqlen, a.heads = heads, a.groups = 1;
  a.dt = dt.data(), a.A = A.data(), a.dt_bias = bias.data(), a.dt_softplus = true, a.dt_min = 0.f, a.dt_max = 1e30f;
  std::vector<double> gammas(records * kSsdChunk, NAN);
  std::vector<float> dts(records * kSsdChunk, NAN), weights(records * kSsdWeights, NAN);
  emulate::Launch(static_cast<int>(records), kSsdChunk, 0,
                  [&] { SsdDecayKernel<float>(a, gammas.data(), dts.data(), weights.data(), chunks, 0); });
  double error = 0, norm = 0;
  auto add = [&](double got, double want) { error += (got - want) * (got - want), norm += want * want; };
  for (int64_t record = 0; record < records; ++record) {
    const int64_t bh = record / chunks, b = bh / heads, h = bh % heads, chunk = record % chunks;
    double gamma = 0, total = 0;
    std::vector<double> steps(kSsdChunk), sums(kSsdChunk);
    for (int i = 0; i < kSsdChunk; ++i) {
      const int64_t t = chunk * kSsdChunk + i;
      steps[i] = t < seqlen ? StepSize(dt[(b * seqlen + t) * heads + h], bias[h], true, 0, 1e30) : 0.0;
      total = gamma += steps[i] * A[h] / std::log(2.0);
      sums[i] = gamma;
    }
    for (int i = 0; i < kSsdChunk; ++i) {
      add(dts[record * kSsdChunk + i], steps[i]);
      add(gammas[record * kSsdChunk + i], sums[i]);
      add(weights[record * kSsdWeights + i], steps[i] * std::exp2(total - sums[i]));
    }
    add(weights[record * kSsdWeights + kSsdChunk], std::exp2(total));
  }
  const double relative = RelativeL2(error, norm);
  failed += !(relative <= 2e-5);
  printf("chunk decays B%d L%d H%d: rel L2 %.2g %s\n", batch, seqlen, heads, relative, relative <= 2e-5 ? "ok" : "FAIL");
}

}  // namespace

int main() {
  const Case cases[] = {
      {1, 70, 2, 10, 1, 5, false, true, true, true, false},       // 1 lane, 5 states (8 a lane)
      {2, 40, 4, 6, 2, 16, true, false, false, true, true},       // 2 lanes
      {1, 230, 2, 36, 2, 64, false, true, true, true, false},     // 8 lanes, 32 rows: 3 chunks, 2 blocks a head
      {1, 30, 1, 9, 1, 3, false, true, true, false, false},       // 4 states a lane
      {1, 20, 2, 4, 1, 2, true, true, false, true, false},        // 2 states a lane
      {1, 12, 1, 3, 1, 1, false, false, true, true, true},        // 1 state
      {1, 10, 2, 20, 1, 200, true, true, true, true, true},       // 32 lanes, 7 states a lane of 8
      {1, 1, 2, 8, 1, 256, false, true, true, true, true},        // the step at the widest state
  };
  for (const Case& c : cases) Scan<float>(c);
  Scan<__nv_bfloat16>(cases[0]);
  Scan<__nv_bfloat16>(cases[1]);
  Decays(1, 300, 2);
  Decays(2, 128, 3);
  return failed + ChunkedCases() + ChunkedBf16Cases() + ChunkedBf16CasesSm90() + ChunkedBf16CasesSm90a();
}
