// longseq-ssd-scan-emulated: the CUDA SSD scan's recurrent kernel (ssd_scan.cu: the step, short sequences and dstate
// up to 256) and the chunked form's decay kernel (ssd_scan_chunked.h) run on the CPU (cuda/emulate.h) against the
// recurrence and the cumulative decays in double. SsdKernel at each states-per-lane count (1, 2, 4, 8) and lanes per
// row (1 to 32), rows past head_dim, chunks of tokens past the staging size, groups, D per head and per dim, the z
// gate, dt bias / softplus / clamp, initial and final states (the final written over the initial one), float32 and
// bfloat16 storage. Prints a line per case and exits with the number that failed (relative L2 error above 2e-5; y above
// 4e-3 in bfloat16, whose rounding of y alone gives about 1.5e-3). The chunked form's products are on tensor cores,
// which this emulation does not cover.
// test/cudaEmulated.test.ts runs it.
#define LONGSEQ_CUDA_EMULATE
#include <cstdio>
#include <random>

#include "cuda/ssd_scan.cu"

namespace {

using namespace ls::cuda;

struct Case {
  int batch, seqlen, heads, head_dim, groups, dstate;
  bool D_per_dim, z, softplus, initial, final_over_initial;
};

double Softplus(double x) { return x > 20 ? x : std::log1p(std::exp(x)); }
double Silu(double z) { return z / (1 + std::exp(-z)); }
double RelativeL2(double error, double norm) { return std::sqrt(error / std::max(norm, 1e-300)); }
double StepSize(double dt, double bias, bool softplus, double lo, double hi) {
  dt += bias;
  if (softplus) dt = Softplus(dt);
  return std::min(std::max(dt, lo), hi);
}

int failed = 0;

void Report(const char* what, double y_error, double state_error, bool bf16) {
  const bool ok = y_error <= (bf16 ? 4e-3 : 2e-5) && state_error <= 2e-5;
  failed += !ok;
  printf("%s: rel L2 y %.2g state %.2g %s\n", what, y_error, state_error, ok ? "ok" : "FAIL");
}

// SsdKernel launched as Scan launches it: lanes per row enough that each holds at most 8 states.
template <typename S>
void Scan(const Case& c) {
  std::mt19937 rng(c.seqlen * 3 + c.dstate * 11 + c.head_dim);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  const int64_t B = c.batch, L = c.seqlen, H = c.heads, P = c.head_dim, G = c.groups, N = c.dstate;
  std::vector<S> x(B * L * H * P), z(x.size()), Bm(B * L * G * N), Cm(Bm.size()), y(x.size());
  for (std::vector<S>* v : {&x, &z, &Bm, &Cm}) {
    for (S& e : *v) StoreAs(&e, normal(rng));
  }
  for (S& e : y) StoreAs(&e, NAN);
  std::vector<float> dt(B * L * H), A(H), D(c.D_per_dim ? H * P : H), bias(H), initial(B * H * P * N);
  for (float& e : dt) e = normal(rng) - 1;
  for (float& e : A) e = -(0.5f + 3 * uniform(rng));
  for (float& e : D) e = normal(rng);
  for (float& e : bias) e = 0.3f * normal(rng);
  for (float& e : initial) e = normal(rng);
  const std::vector<float> initial_before = initial;
  std::vector<float> final_state(initial.size(), NAN);
  float* final_out = c.final_over_initial ? initial.data() : final_state.data();
  const float dt_min = 0.001f, dt_max = 2.f;
  const SsdArgs<S> a = {B,         L,         H,           P,          G,           N,
                        x.data(),  Bm.data(), Cm.data(),   c.z ? z.data() : nullptr,
                        dt.data(), A.data(),  D.data(),    bias.data(), c.initial ? initial.data() : nullptr,
                        y.data(),  final_out, c.D_per_dim, c.softplus, dt_min,      dt_max};
  int lanes_log2 = 0;
  while ((1 << lanes_log2) * 8 < N) ++lanes_log2;
  const int per = static_cast<int>((N + (1 << lanes_log2) - 1) >> lanes_log2);
  const int rows = kThreads >> lanes_log2, width = (1 << lanes_log2) * (per <= 1 ? 1 : per <= 2 ? 2 : per <= 4 ? 4 : 8);
  const int chunk = ChunkTokens(width, rows);
  const size_t bytes = sizeof(float) * (chunk * (2 * width + 3 * rows + 2));
  const int blocks = static_cast<int>(B * H * ((P + rows - 1) / rows));
  auto launch = [&](auto per_lane) {
    emulate::Launch(blocks, kThreads, bytes, [&] { SsdKernel<S, decltype(per_lane)::value>(a, lanes_log2, chunk); });
  };
  if (per <= 1) {
    launch(std::integral_constant<int, 1>());
  } else if (per <= 2) {
    launch(std::integral_constant<int, 2>());
  } else if (per <= 4) {
    launch(std::integral_constant<int, 4>());
  } else {
    launch(std::integral_constant<int, 8>());
  }

  double y_error = 0, y_norm = 0, s_error = 0, s_norm = 0;
  std::vector<double> state(N);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t g = h / (H / G);
      for (int64_t p = 0; p < P; ++p) {
        const int64_t row = ((b * H + h) * P + p) * N;
        for (int64_t n = 0; n < N; ++n) state[n] = c.initial ? initial_before[row + n] : 0.0;
        for (int64_t t = 0; t < L; ++t) {
          const double step = StepSize(dt[(b * L + t) * H + h], bias[h], c.softplus, dt_min, dt_max);
          const double decay = std::exp(step * A[h]), xv = ToFloat(x[((b * L + t) * H + h) * P + p]);
          double sum = (c.D_per_dim ? D[h * P + p] : D[h]) * xv;
          for (int64_t n = 0; n < N; ++n) {
            const int64_t bc = ((b * L + t) * G + g) * N + n;
            state[n] = decay * state[n] + step * xv * ToFloat(Bm[bc]);
            sum += state[n] * ToFloat(Cm[bc]);
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
  char what[200];
  snprintf(what, sizeof what, "scan B%d L%d H%d P%d G%d N%d (a row's states over %d lanes, %d each; chunks of %d)%s%s%s%s%s",
           c.batch, c.seqlen, c.heads, c.head_dim, c.groups, c.dstate, 1 << lanes_log2, width >> lanes_log2, chunk,
           c.D_per_dim ? ", D per dim" : "", c.z ? ", z" : "", c.softplus ? ", softplus" : "",
           c.initial ? (c.final_over_initial ? ", initial state (final written over it)" : ", initial state") : "",
           sizeof(S) == 2 ? ", bfloat16" : "");
  Report(what, RelativeL2(y_error, y_norm), RelativeL2(s_error, s_norm), sizeof(S) == 2);
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
  return failed;
}
