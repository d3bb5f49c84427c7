// Shared pieces of the longseq-bench binary: timing, input rotation, machine limits, result rows.
#ifndef LONGSEQ_BENCH_BENCH_H_
#define LONGSEQ_BENCH_BENCH_H_

#include <stdint.h>

#include <functional>
#include <string>
#include <vector>

namespace ls_bench {

// The machine's own limits, measured by the bench (bench_limits.cc).
struct Limits {
  double fma_gflops_1t;     // float32 FMA peak of one thread, GFLOP/s (an FMA counts as 2 flops)
  double fma_gflops_all;    // the same with every hardware thread
  double copy_gbps_1t;      // memory bandwidth of one thread copying a large buffer (read + write), GB/s
  double copy_gbps_all;     // the same with every hardware thread
  double read_gbps_1t;      // one thread summing a large buffer (bytes read), GB/s
  double read_gbps_all;     // the same with every hardware thread
  std::string simd_target;  // Highway target the kernels run on
};
Limits MeasureLimits();

// One measured configuration.
struct Result {
  std::string op, config;
  int threads;
  double median_ms, min_ms;
  int runs;
  double elements;  // output elements per run, for throughput
  double flops;     // useful flops per run (the op's model, documented where the case is defined)
  double bytes;     // compulsory DRAM traffic per run
};

// Random floats in [lo, hi), from a fixed seed so every run sees the same inputs.
std::vector<float> RandomFloats(int64_t n, float lo, float hi, uint64_t seed);

// How many copies of an input set of `bytes` to rotate through so the working set exceeds the caches.
int RotationCopies(double bytes);

// --case: whether the case `op` at `config` is to run. Each case asks before it makes its inputs.
bool Selected(const std::string& op, const std::string& config);

// printf into a std::string (for case configs).
std::string Format(const char* format, ...);

// Runs `run(copy)` (copy cycles through [0, copies)) until `min_seconds` have passed and at least
// `min_runs` runs were made, after one warm-up; returns the median and minimum in milliseconds. With
// --interleave, the runs are those stdin asks for instead (see bench.cc).
void Time(const std::function<void(int)>& run, int copies, double min_seconds, int min_runs, double* median_ms,
          double* min_ms, int* runs);

// Bench cases, one file per op.
void BenchSelectiveScan(int threads, double min_seconds, std::vector<Result>* results);
void BenchDeltaRule(int threads, double min_seconds, std::vector<Result>* results);
void BenchCausalConv1d(int threads, double min_seconds, std::vector<Result>* results);
void BenchFftConv(int threads, double min_seconds, std::vector<Result>* results);
void BenchSsdScan(int threads, double min_seconds, std::vector<Result>* results);

// --backend cuda (cuda_bench.cu, or a stub that says CUDA was not built): the CUDA kernels, timed with CUDA
// events; `limits_json` gets the device's measured limits as JSON members. Returns 0, or 1 when unusable.
int RunCudaBench(double min_seconds, const std::string& only, std::vector<Result>* results, std::string* limits_json);

}  // namespace ls_bench

#endif  // LONGSEQ_BENCH_BENCH_H_
