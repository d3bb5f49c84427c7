// cudaSelectiveScan / cudaSelectiveScanStep: the selective scan on the GPU, with host TypedArrays (copied in and
// out) or device handles for any tensor; u, delta, z, B, C and y in the call's storage type.
#include <memory>

#include "addon/cuda.h"
#include "addon/ops.h"
#include "addon/selective_scan_sizes.h"

namespace ls_addon {
namespace {

class CudaSelectiveScanWorker : public CudaOpWorker {
 public:
  explicit CudaSelectiveScanWorker(Napi::Env env) : CudaOpWorker(env, "selectiveScan") {}
  ls_selective_scan_params params = {};

 private:
  ls_status Run() override {
    ls_status s = Stage();
    if (s == LS_OK) s = ls_selective_scan_cuda(&params, nullptr);
    return Finish(s);
  }
};

class CudaSelectiveScanStepWorker : public CudaOpWorker {
 public:
  explicit CudaSelectiveScanStepWorker(Napi::Env env) : CudaOpWorker(env, "selectiveScanStep") {}
  ls_selective_scan_step_params params = {};

 private:
  ls_status Run() override {
    ls_status s = Stage();
    if (s == LS_OK) s = ls_selective_scan_step_cuda(&params, nullptr);
    return Finish(s);
  }
};

}  // namespace

// args: as selectiveScan's, plus { storage: 0 float32 | 1 bfloat16, outputsOnDevice }; each tensor a TypedArray
// or a device handle. Resolves to { y, finalState? }, TypedArrays or handles.
Napi::Value CudaSelectiveScan(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaSelectiveScan(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CudaSelectiveScanWorker>(env);
  ls_selective_scan_params& p = worker->params;
  p.storage = GetEnum(args, "storage", LS_BFLOAT16);
  const bool on_device = GetBool(args, "outputsOnDevice");
  ReadScanSizes(args, &p);
  const int64_t bdl = Elements(env, "u", {p.batch, p.dim, p.seqlen});
  const int64_t bgnl = Elements(env, "B", {p.batch, p.groups, p.dstate, p.seqlen});
  const int64_t bdn = Elements(env, "initialState", {p.batch, p.dim, p.dstate});
  worker->Input(args, "u", bdl, p.storage, true, &p.u);
  worker->Input(args, "delta", bdl, p.storage, true, &p.delta);
  worker->Input(args, "z", bdl, p.storage, false, &p.z);
  worker->Input(args, "B", bgnl, p.storage, true, &p.B);
  worker->Input(args, "C", bgnl, p.storage, true, &p.C);
  worker->Input(args, "A", Elements(env, "A", {p.dim, p.dstate}), LS_FLOAT32, true, &p.A);
  worker->Input(args, "D", p.dim, LS_FLOAT32, false, &p.D);
  worker->Input(args, "deltaBias", p.dim, LS_FLOAT32, false, &p.delta_bias);
  worker->Input(args, "initialState", bdn, LS_FLOAT32, false, &p.initial_state);
  worker->Output("y", bdl, p.storage, on_device, &p.y);
  if (GetBool(args, "returnFinalState")) worker->Output("finalState", bdn, LS_FLOAT32, on_device, &p.final_state);
  return worker.release()->Queue();
}

// args: as selectiveScanStep's, plus { storage, outputsOnDevice }; state (float32) is a Float32Array (copied
// in and back) or a handle, updated in place. Resolves to { y }.
Napi::Value CudaSelectiveScanStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaSelectiveScanStep(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CudaSelectiveScanStepWorker>(env);
  ls_selective_scan_step_params& p = worker->params;
  p.storage = GetEnum(args, "storage", LS_BFLOAT16);
  const bool on_device = GetBool(args, "outputsOnDevice");
  ReadScanStepSizes(args, &p);
  const int64_t bd = Elements(env, "x", {p.batch, p.dim});
  const int64_t bgn = Elements(env, "B", {p.batch, p.groups, p.dstate});
  worker->InOut(args, "state", Elements(env, "state", {p.batch, p.dim, p.dstate}), &p.state);
  worker->Input(args, "x", bd, p.storage, true, &p.x);
  worker->Input(args, "delta", bd, p.storage, true, &p.delta);
  worker->Input(args, "z", bd, p.storage, false, &p.z);
  worker->Input(args, "B", bgn, p.storage, true, &p.B);
  worker->Input(args, "C", bgn, p.storage, true, &p.C);
  worker->Input(args, "A", Elements(env, "A", {p.dim, p.dstate}), LS_FLOAT32, true, &p.A);
  worker->Input(args, "D", p.dim, LS_FLOAT32, false, &p.D);
  worker->Input(args, "deltaBias", p.dim, LS_FLOAT32, false, &p.delta_bias);
  worker->Output("y", bd, p.storage, on_device, &p.y);
  return worker.release()->Queue();
}

}  // namespace ls_addon
