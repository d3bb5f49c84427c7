// The machine's limits, measured here so every bench figure can be put against them: float32 FMA peak
// (Highway, best SIMD target, independent accumulators to hide FMA latency), copy bandwidth, and read
// bandwidth (the bound of anything that streams weights once, such as a model's decode step).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/bench_limits.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#ifndef LONGSEQ_BENCH_LIMITS_ONCE
#define LONGSEQ_BENCH_LIMITS_ONCE
#include <string.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "bench/bench.h"
#include "longseq/longseq.h"
#endif

HWY_BEFORE_NAMESPACE();
namespace ls_bench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Runs `iterations` rounds of 12 independent FMA chains; returns the flops done.
double FmaLoop(int64_t iterations, float seed) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.999999f);
  const auto a = hn::Set(d, 1e-7f);
  auto v0 = hn::Set(d, seed), v1 = hn::Set(d, seed + 1), v2 = hn::Set(d, seed + 2), v3 = hn::Set(d, seed + 3);
  auto v4 = hn::Set(d, seed + 4), v5 = hn::Set(d, seed + 5), v6 = hn::Set(d, seed + 6), v7 = hn::Set(d, seed + 7);
  auto v8 = hn::Set(d, seed + 8), v9 = hn::Set(d, seed + 9), v10 = hn::Set(d, seed + 10), v11 = hn::Set(d, seed + 11);
  for (int64_t i = 0; i < iterations; ++i) {
    v0 = hn::MulAdd(v0, m, a); v1 = hn::MulAdd(v1, m, a); v2 = hn::MulAdd(v2, m, a); v3 = hn::MulAdd(v3, m, a);
    v4 = hn::MulAdd(v4, m, a); v5 = hn::MulAdd(v5, m, a); v6 = hn::MulAdd(v6, m, a); v7 = hn::MulAdd(v7, m, a);
    v8 = hn::MulAdd(v8, m, a); v9 = hn::MulAdd(v9, m, a); v10 = hn::MulAdd(v10, m, a); v11 = hn::MulAdd(v11, m, a);
  }
  const auto sum = hn::Add(hn::Add(hn::Add(v0, v1), hn::Add(v2, v3)), hn::Add(hn::Add(hn::Add(v4, v5), hn::Add(v6, v7)),
                                                                       hn::Add(hn::Add(v8, v9), hn::Add(v10, v11))));
  // Keep the result alive so the loop is not optimised away.
  volatile float sink = hn::GetLane(sum);
  (void)sink;
  return 2.0 * 12 * hn::Lanes(d) * iterations;
}

// Sums n floats (a multiple of 4 vectors) with four accumulators: a pure read stream.
float SumLoop(const float* data, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  for (int64_t i = 0; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::Add(s0, hn::LoadU(d, data + i));
    s1 = hn::Add(s1, hn::LoadU(d, data + i + N));
    s2 = hn::Add(s2, hn::LoadU(d, data + i + 2 * N));
    s3 = hn::Add(s3, hn::LoadU(d, data + i + 3 * N));
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
}

}  // namespace HWY_NAMESPACE
}  // namespace ls_bench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ls_bench {
HWY_EXPORT(FmaLoop);
HWY_EXPORT(SumLoop);

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Best of 5 rounds; each thread runs the same loop.
double FmaGflops(int threads) {
  const int64_t iterations = 20'000'000;
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    std::vector<double> flops(threads);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] { flops[t] = HWY_DYNAMIC_DISPATCH(FmaLoop)(iterations, 1.0f + t); });
    }
    for (auto& th : pool) th.join();
    const double seconds = Seconds(start);
    double total = 0;
    for (double f : flops) total += f;
    best = std::max(best, total / seconds / 1e9);
  }
  return best;
}

// memcpy of a 256 MiB buffer split among threads; counts bytes read + written. Best of 5.
double CopyGbps(int threads) {
  const size_t bytes = size_t{256} << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    const size_t part = bytes / threads;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] { memcpy(dst.data() + t * part, src.data() + t * part, part); });
    }
    for (auto& th : pool) th.join();
    best = std::max(best, 2.0 * bytes / Seconds(start) / 1e9);
  }
  return best;
}

// Sums of a 512 MiB buffer split among threads; counts bytes read. Best of 5.
double ReadGbps(int threads) {
  const int64_t floats = int64_t{128} << 20;
  std::vector<float> data(floats, 1.0f);
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    std::vector<float> sums(threads);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    const int64_t part = floats / threads / 256 * 256;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] { sums[t] = HWY_DYNAMIC_DISPATCH(SumLoop)(data.data() + t * part, part); });
    }
    for (auto& th : pool) th.join();
    best = std::max(best, 4.0 * part * threads / Seconds(start) / 1e9);
    volatile float sink = sums[0];
    (void)sink;
  }
  return best;
}

}  // namespace

Limits MeasureLimits() {
  Limits limits;
  const int all = ls_hardware_threads();
  limits.fma_gflops_1t = FmaGflops(1);
  limits.fma_gflops_all = FmaGflops(all);
  limits.copy_gbps_1t = CopyGbps(1);
  limits.copy_gbps_all = CopyGbps(all);
  limits.read_gbps_1t = ReadGbps(1);
  limits.read_gbps_all = ReadGbps(all);
  limits.simd_target = ls_simd_target();
  return limits;
}

}  // namespace ls_bench
#endif  // HWY_ONCE
