// The Node-API module. Node-API modules are context-aware: this one keeps no per-process JS state, so it
// loads in any number of worker_threads. The kernels' thread pool is process-wide and shared by all of them.
#include <napi.h>

#include "addon/cuda.h"
#include "addon/ops.h"
#include "longseq/longseq.h"

namespace ls_addon {
namespace {

struct OpEntry {
  const char* name;
  Napi::Value (*op)(const Napi::CallbackInfo&);
};

// One line per op.
constexpr OpEntry kOps[] = {
    {"selectiveScan", SelectiveScan},
    {"selectiveScanStep", SelectiveScanStep},
    {"deltaRule", DeltaRule},
    {"deltaRuleStep", DeltaRuleStep},
    {"causalConv1d", CausalConv1d},
    {"causalConv1dStep", CausalConv1dStep},
    {"fftConv", FftConv},
    {"fftConvSpectrum", FftConvSpectrum},
    {"ssdScan", SsdScan},
    {"ssdScanStep", SsdScanStep},
    {"linear", Linear},
    {"mambaBlocksStep", MambaBlocksStep},
    {"cudaSelectiveScan", CudaSelectiveScan},
    {"cudaSelectiveScanStep", CudaSelectiveScanStep},
    {"cudaCausalConv1d", CudaCausalConv1d},
    {"cudaCausalConv1dStep", CudaCausalConv1dStep},
    {"cudaDeltaRule", CudaDeltaRule},
    {"cudaDeltaRuleStep", CudaDeltaRuleStep},
    {"cudaFftConv", CudaFftConv},
    {"cudaFftConvSpectrum", CudaFftConvSpectrum},
    {"cudaSsdScan", CudaSsdScan},
    {"cudaSsdScanStep", CudaSsdScanStep},
};

}  // namespace
}  // namespace ls_addon

static Napi::Object InitLongseq(Napi::Env env, Napi::Object exports) {
  using namespace ls_addon;
  exports.Set("hardwareThreads", Napi::Number::New(env, ls_hardware_threads()));
  exports.Set("simdTarget", Napi::String::New(env, ls_simd_target()));
  for (const OpEntry& entry : kOps) exports.Set(entry.name, Napi::Function::New(env, entry.op, entry.name));
  InitCuda(env, exports);
  return exports;
}

NODE_API_MODULE(longseq, InitLongseq)
