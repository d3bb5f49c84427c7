// cudaSsdScan / cudaSsdScanStep: Mamba-2's SSD scan on the GPU, with host TypedArrays (copied in and out) or device
// handles for any tensor; x, z, B, C and y in the call's storage type, the rest float32.
#include <memory>

#include "addon/cuda.h"
#include "addon/ops.h"
#include "addon/ssd_scan_sizes.h"

namespace ls_addon {
namespace {

class CudaSsdScanWorker : public CudaOpWorker {
 public:
  explicit CudaSsdScanWorker(Napi::Env env) : CudaOpWorker(env, "ssdScan") {}
  ls_ssd_scan_params params = {};

 private:
  ls_status Run() override {
    ls_status s = Stage();
    if (s == LS_OK) s = ls_ssd_scan_cuda(&params, nullptr);
    return Finish(s);
  }
};

class CudaSsdScanStepWorker : public CudaOpWorker {
 public:
  explicit CudaSsdScanStepWorker(Napi::Env env) : CudaOpWorker(env, "ssdScanStep") {}
  ls_ssd_scan_step_params params = {};

 private:
  ls_status Run() override {
    ls_status s = Stage();
    if (s == LS_OK) s = ls_ssd_scan_step_cuda(&params, nullptr);
    return Finish(s);
  }
};

}  // namespace

// args: as ssdScan's (chunkSize is ignored: the GPU's chunks are 128 tokens), plus { dPerDim, storage: 0 float32 |
// 1 bfloat16, outputsOnDevice }. Resolves to { y, finalState? }, TypedArrays or handles.
Napi::Value CudaSsdScan(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaSsdScan(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CudaSsdScanWorker>(env);
  ls_ssd_scan_params& p = worker->params;
  const bool on_device = GetBool(args, "outputsOnDevice");
  ReadSsdScanSizes(args, &p);
  p.D_per_dim = GetBool(args, "dPerDim") ? 1 : 0;
  p.storage = GetEnum(args, "storage", LS_BFLOAT16);
  const int64_t blhp = Elements(env, "x", {p.batch, p.seqlen, p.heads, p.head_dim});
  const int64_t blgn = Elements(env, "B", {p.batch, p.seqlen, p.groups, p.dstate});
  const int64_t state = Elements(env, "initialState", {p.batch, p.heads, p.head_dim, p.dstate});
  worker->Input(args, "x", blhp, p.storage, true, &p.x);
  worker->Input(args, "dt", Elements(env, "dt", {p.batch, p.seqlen, p.heads}), LS_FLOAT32, true, &p.dt);
  worker->Input(args, "A", p.heads, LS_FLOAT32, true, &p.A);
  worker->Input(args, "B", blgn, p.storage, true, &p.B);
  worker->Input(args, "C", blgn, p.storage, true, &p.C);
  worker->Input(args, "D", p.D_per_dim ? Elements(env, "D", {p.heads, p.head_dim}) : p.heads, LS_FLOAT32, false, &p.D);
  worker->Input(args, "z", blhp, p.storage, false, &p.z);
  worker->Input(args, "dtBias", p.heads, LS_FLOAT32, false, &p.dt_bias);
  worker->Input(args, "initialState", state, LS_FLOAT32, false, &p.initial_state);
  worker->Output("y", blhp, p.storage, on_device, &p.y);
  if (GetBool(args, "returnFinalState")) worker->Output("finalState", state, LS_FLOAT32, on_device, &p.final_state);
  return worker.release()->Queue();
}

// args: as ssdScanStep's, plus { dPerDim, storage, outputsOnDevice }; state (float32) is a Float32Array (copied in
// and back) or a handle, updated in place. Resolves to { y }.
Napi::Value CudaSsdScanStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaSsdScanStep(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CudaSsdScanStepWorker>(env);
  ls_ssd_scan_step_params& p = worker->params;
  const bool on_device = GetBool(args, "outputsOnDevice");
  ReadSsdScanStepSizes(args, &p);
  p.D_per_dim = GetBool(args, "dPerDim") ? 1 : 0;
  p.storage = GetEnum(args, "storage", LS_BFLOAT16);
  const int64_t bhp = Elements(env, "x", {p.batch, p.heads, p.head_dim});
  const int64_t bgn = Elements(env, "B", {p.batch, p.groups, p.dstate});
  worker->InOut(args, "state", Elements(env, "state", {p.batch, p.heads, p.head_dim, p.dstate}), &p.state);
  worker->Input(args, "x", bhp, p.storage, true, &p.x);
  worker->Input(args, "dt", Elements(env, "dt", {p.batch, p.heads}), LS_FLOAT32, true, &p.dt);
  worker->Input(args, "A", p.heads, LS_FLOAT32, true, &p.A);
  worker->Input(args, "B", bgn, p.storage, true, &p.B);
  worker->Input(args, "C", bgn, p.storage, true, &p.C);
  worker->Input(args, "D", p.D_per_dim ? Elements(env, "D", {p.heads, p.head_dim}) : p.heads, LS_FLOAT32, false, &p.D);
  worker->Input(args, "z", bhp, p.storage, false, &p.z);
  worker->Input(args, "dtBias", p.heads, LS_FLOAT32, false, &p.dt_bias);
  worker->Output("y", bhp, p.storage, on_device, &p.y);
  return worker.release()->Queue();
}

}  // namespace ls_addon
