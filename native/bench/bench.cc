// longseq-bench: times the C API directly at the configurations of DESIGN §6 and puts each figure against
// the machine's own limits, measured first.
//
//   longseq-bench [--backend cpu|cuda] [--threads N] [--min-time SECONDS] [--op NAME] [--json FILE] [--limits]
//                 [--case "OP CONFIG" [--interleave]]
//
// --backend cuda runs the CUDA cases instead (cuda_bench.cu): CUDA-event timing against the card's limits.
// --threads 0 (default) runs each case with 1 thread and with all hardware threads. --limits measures and
// prints only the machine's limits (as JSON with --json), for the JS bench runner. --case runs the one case whose
// op and config, joined by a space, are this string (e.g. "selectiveScan B1 D1536 N16 L4096").
// --interleave (with --case, for bench/interleaved.mjs): after its warm-up the case prints "ready", then for each
// line k > 0 read from stdin runs k times and prints the times in ms on one line; 0 or the end of stdin ends it.
// This lets another process alternate its own runs with ours run by run, so that both see the same spells of this
// shared machine's speed: their ratio is then read from pairs of runs taken side by side.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench.h"
#include "longseq/longseq.h"

namespace ls_bench {

std::vector<float> RandomFloats(int64_t n, float lo, float hi, uint64_t seed) {
  // Blocks of 2^20 values, each from a generator of its own seeded by (seed, block), filled on every hardware thread:
  // the same values whatever the thread count, and the GPU bench's inputs (over a billion values per deltaRule
  // shape list) in seconds instead of the ~40 s one thread took, which its device runs paid for.
  constexpr int64_t kBlock = int64_t{1} << 20;
  std::vector<float> v(n);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::atomic<int64_t> next{0};
  const auto fill = [&] {
    for (int64_t b; (b = next++) < blocks;) {
      std::seed_seq seeds{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(b)};
      std::mt19937_64 rng(seeds);
      std::uniform_real_distribution<float> dist(lo, hi);
      for (int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) v[i] = dist(rng);
    }
  };
  const int64_t threads = std::min<int64_t>(blocks, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> helpers;
  for (int64_t t = 1; t < threads; ++t) helpers.emplace_back(fill);
  fill();
  for (std::thread& helper : helpers) helper.join();
  return v;
}

int RotationCopies(double bytes) {
  // Enough copies to pass 512 MiB, far beyond any L3 here, but at most 8 to bound memory.
  const double target = 512.0 * (1 << 20);
  return std::max(1, std::min(8, static_cast<int>(target / std::max(bytes, 1.0)) + 1));
}

namespace {
std::string g_case;        // --case: the one case to run ("" = all)
bool g_interleave = false;  // --interleave: runs on request from stdin
bool g_looking = false;     // CaseExists: Selected() notes whether g_case is one of the cases, and runs none
bool g_found = false;

double TimeOne(const std::function<void(int)>& run, int copy) {
  const auto start = std::chrono::steady_clock::now();
  run(copy);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// --interleave: serves runs as stdin asks for them (see the top of this file); returns every time taken.
std::vector<double> ServeRuns(const std::function<void(int)>& run, int copies) {
  std::vector<double> times;
  printf("ready\n");
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    const int k = atoi(line);
    if (k <= 0) break;
    for (int i = 0; i < k; ++i) {
      times.push_back(TimeOne(run, static_cast<int>(times.size() % copies)));
      printf(i + 1 < k ? "%.4f " : "%.4f\n", times.back());
    }
    fflush(stdout);
  }
  return times;
}
}  // namespace

bool Selected(const std::string& op, const std::string& config) {
  const bool selected = g_case.empty() || g_case == op + " " + config;
  if (g_looking) {
    g_found = g_found || selected;
    return false;
  }
  return selected;
}

std::string Format(const char* format, ...) {
  char text[128];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  return text;
}

void Time(const std::function<void(int)>& run, int copies, double min_seconds, int min_runs, double* median_ms,
          double* min_ms, int* runs) {
  run(0);  // warm-up: page faults, thread pool start
  std::vector<double> times;
  if (g_interleave) {  // the runs asked for (at least one, for the result row)
    times = ServeRuns(run, copies);
    min_runs = 1;
    min_seconds = 0;
  }
  const auto begin = std::chrono::steady_clock::now();
  while (static_cast<int>(times.size()) < min_runs ||
         std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count() < min_seconds) {
    times.push_back(TimeOne(run, static_cast<int>(times.size() % copies)));
  }
  std::sort(times.begin(), times.end());
  *median_ms = times[times.size() / 2];
  *min_ms = times.front();
  *runs = static_cast<int>(times.size());
}

// --threads N: N; 0: one thread, then every hardware thread.
std::vector<int> ThreadCounts(int threads) {
  if (threads > 0) return {threads};
  if (ls_hardware_threads() > 1) return {1, ls_hardware_threads()};
  return {1};
}

void RunCases(const std::vector<int>& thread_counts, const std::string& only, double min_seconds,
              std::vector<Result>* results) {
  for (int t : thread_counts) {
    if (only.empty() || only == "selectiveScan") BenchSelectiveScan(t, min_seconds, results);
    if (only.empty() || only == "deltaRule") BenchDeltaRule(t, min_seconds, results);
    if (only.empty() || only == "causalConv1d") BenchCausalConv1d(t, min_seconds, results);
    if (only.empty() || only == "fftConv") BenchFftConv(t, min_seconds, results);
    if (only.empty() || only == "ssdScan") BenchSsdScan(t, min_seconds, results);
  }
}

// Whether --case names a case that --op leaves in (every case asks Selected() before it does any work, so this
// runs none); says so where not.
bool CaseExists(const std::string& only) {
  g_looking = true;
  std::vector<Result> none;
  RunCases({1}, only, 0, &none);
  g_looking = false;
  if (!g_found) fprintf(stderr, "longseq-bench: no case \"%s\"%s\n", g_case.c_str(), only.empty() ? "" : " under this --op");
  return g_found;
}

}  // namespace ls_bench

int main(int argc, char** argv) {
  using namespace ls_bench;
  int threads = 0;
  double min_seconds = 1.0;
  std::string only, json_path;
  bool limits_only = false;
  bool cuda = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--threads" && has_value) {
      threads = atoi(argv[++i]);
    } else if (arg == "--min-time" && has_value) {
      min_seconds = atof(argv[++i]);
    } else if (arg == "--op" && has_value) {
      only = argv[++i];
    } else if (arg == "--json" && has_value) {
      json_path = argv[++i];
    } else if (arg == "--case" && has_value) {
      g_case = argv[++i];
    } else if (arg == "--interleave") {
      g_interleave = true;
    } else if (arg == "--limits") {
      limits_only = true;
    } else if (arg == "--backend" && has_value && (strcmp(argv[i + 1], "cpu") == 0 || strcmp(argv[i + 1], "cuda") == 0)) {
      cuda = strcmp(argv[++i], "cuda") == 0;
    } else {
      fprintf(stderr,
              "usage: longseq-bench [--backend cpu|cuda] [--threads N] [--min-time SECONDS] [--op NAME] [--json FILE] "
              "[--limits] [--case \"OP CONFIG\" [--interleave]]\n");
      return 2;
    }
  }

  if (cuda && !g_case.empty()) {
    fprintf(stderr, "--case is for the cpu backend\n");
    return 2;
  }
  if (g_interleave && g_case.empty()) {
    fprintf(stderr, "--interleave needs --case\n");
    return 2;
  }

  if (cuda) {
    std::vector<Result> results;
    std::string limits_json;
    if (RunCudaBench(min_seconds, only, &results, &limits_json) != 0) return 1;
    if (!json_path.empty()) {
      FILE* f = fopen(json_path.c_str(), "w");
      if (!f) {
        fprintf(stderr, "cannot write %s\n", json_path.c_str());
        return 1;
      }
      fprintf(f, "{\n  \"limits\": {%s},\n  \"results\": [\n", limits_json.c_str());
      for (size_t i = 0; i < results.size(); ++i) {
        const Result& r = results[i];
        fprintf(f, "    {\"op\": \"%s\", \"config\": \"%s\", \"backend\": \"cuda\", \"medianMs\": %.5f, \"minMs\": %.5f, "
                   "\"runs\": %d, \"elements\": %.0f, \"bytes\": %.0f}%s\n",
                r.op.c_str(), r.config.c_str(), r.median_ms, r.min_ms, r.runs, r.elements, r.bytes,
                i + 1 < results.size() ? "," : "");
      }
      fprintf(f, "  ]\n}\n");
      fclose(f);
    }
    return 0;
  }

  if (!g_case.empty() && !CaseExists(only)) return 1;  // before the limits are measured, which takes seconds
  if (g_interleave) {  // stdout carries only the runs asked for
    std::vector<Result> results;
    RunCases(ThreadCounts(threads), only, min_seconds, &results);
    return results.empty() ? 1 : 0;  // the case failed (it said why)
  }

  fprintf(stderr, "measuring machine limits...\n");
  const Limits limits = MeasureLimits();
  printf("machine: %d hardware threads, SIMD %s\n", ls_hardware_threads(), limits.simd_target.c_str());
  printf("limits: FMA peak %.1f GFLOP/s (1 thread), %.1f (all); copy bandwidth %.1f GB/s (1 thread), %.1f (all); "
         "read bandwidth %.1f GB/s (1 thread), %.1f (all)\n\n",
         limits.fma_gflops_1t, limits.fma_gflops_all, limits.copy_gbps_1t, limits.copy_gbps_all, limits.read_gbps_1t,
         limits.read_gbps_all);

  std::vector<Result> results;
  if (!limits_only) {
    RunCases(ThreadCounts(threads), only, min_seconds, &results);

    printf("%-20s %-26s %3s %10s %12s %9s %9s\n", "op", "config", "thr", "median ms", "M elem/s", "%FMA", "%BW");
    for (const Result& r : results) {
      const double seconds = r.median_ms / 1e3;
      const double fma = r.flops / seconds / 1e9 / (r.threads == 1 ? limits.fma_gflops_1t : limits.fma_gflops_all);
      const double bw = r.bytes / seconds / 1e9 / (r.threads == 1 ? limits.copy_gbps_1t : limits.copy_gbps_all);
      printf("%-20s %-26s %3d %10.3f %12.3f %8.1f%% %8.1f%%\n", r.op.c_str(), r.config.c_str(), r.threads,
             r.median_ms, r.elements / seconds / 1e6, 100 * fma, 100 * bw);
    }
  }

  if (!json_path.empty()) {
    FILE* f = fopen(json_path.c_str(), "w");
    if (!f) {
      fprintf(stderr, "cannot write %s\n", json_path.c_str());
      return 1;
    }
    fprintf(f, "{\n  \"limits\": {\"fmaGflops1t\": %.2f, \"fmaGflopsAll\": %.2f, \"copyGBps1t\": %.2f, \"copyGBpsAll\": %.2f, "
               "\"readGBps1t\": %.2f, \"readGBpsAll\": %.2f, \"simdTarget\": \"%s\", \"hardwareThreads\": %d},\n  \"results\": [\n",
            limits.fma_gflops_1t, limits.fma_gflops_all, limits.copy_gbps_1t, limits.copy_gbps_all, limits.read_gbps_1t,
            limits.read_gbps_all,
            limits.simd_target.c_str(), ls_hardware_threads());
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      fprintf(f, "    {\"op\": \"%s\", \"config\": \"%s\", \"threads\": %d, \"medianMs\": %.4f, \"minMs\": %.4f, \"runs\": %d, "
                 "\"elements\": %.0f, \"flops\": %.0f, \"bytes\": %.0f}%s\n",
              r.op.c_str(), r.config.c_str(), r.threads, r.median_ms, r.min_ms, r.runs, r.elements, r.flops, r.bytes,
              i + 1 < results.size() ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
  }
  return 0;
}
