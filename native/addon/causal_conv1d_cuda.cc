// cudaCausalConv1d / cudaCausalConv1dStep: the causal conv1d on the GPU (float32), with host Float32Arrays (copied
// in and out) or device handles for any tensor.
#include <memory>

#include "addon/cuda.h"
#include "addon/ops.h"

namespace ls_addon {
namespace {

class CudaCausalConv1dWorker : public CudaOpWorker {
 public:
  explicit CudaCausalConv1dWorker(Napi::Env env) : CudaOpWorker(env, "causalConv1d") {}
  ls_causal_conv1d_params params = {};

 private:
  ls_status Run() override {
    ls_status s = Stage();
    if (s == LS_OK) s = ls_causal_conv1d_cuda(&params, nullptr);
    return Finish(s);
  }
};

class CudaCausalConv1dStepWorker : public CudaOpWorker {
 public:
  explicit CudaCausalConv1dStepWorker(Napi::Env env) : CudaOpWorker(env, "causalConv1dStep") {}
  ls_causal_conv1d_step_params params = {};

 private:
  ls_status Run() override {
    ls_status s = Stage();
    if (s == LS_OK) s = ls_causal_conv1d_step_cuda(&params, nullptr);
    return Finish(s);
  }
};

}  // namespace

// args: as causalConv1d's (batch, dim, seqlen, width, silu, returnFinalState, x, weight, bias?, initialState?),
// plus { outputsOnDevice }. Resolves to { y, finalState? }, Float32Arrays or handles.
Napi::Value CudaCausalConv1d(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaCausalConv1d(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CudaCausalConv1dWorker>(env);
  ls_causal_conv1d_params& p = worker->params;
  const bool on_device = GetBool(args, "outputsOnDevice");
  p.batch = GetDim(args, "batch");
  p.dim = GetDim(args, "dim");
  p.seqlen = GetDim(args, "seqlen");
  p.width = GetDim(args, "width");
  p.activation = GetBool(args, "silu") ? LS_ACTIVATION_SILU : LS_ACTIVATION_NONE;
  const int64_t bdl = Elements(env, "x", {p.batch, p.dim, p.seqlen});
  const int64_t state = Elements(env, "initialState", {p.batch, p.dim, p.width - 1});
  worker->Input(args, "x", bdl, LS_FLOAT32, true, &p.x);
  worker->Input(args, "weight", Elements(env, "weight", {p.dim, p.width}), LS_FLOAT32, true, &p.weight);
  worker->Input(args, "bias", p.dim, LS_FLOAT32, false, &p.bias);
  worker->Input(args, "initialState", state, LS_FLOAT32, false, &p.initial_state);
  worker->Output("y", bdl, LS_FLOAT32, on_device, &p.y);
  if (GetBool(args, "returnFinalState")) worker->Output("finalState", state, LS_FLOAT32, on_device, &p.final_state);
  return worker.release()->Queue();
}

// args: as causalConv1dStep's (batch, dim, width, silu, state, x, weight, bias?), plus { outputsOnDevice }; state
// is a Float32Array (copied in and back) or a handle, updated in place. Resolves to { y }.
Napi::Value CudaCausalConv1dStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaCausalConv1dStep(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CudaCausalConv1dStepWorker>(env);
  ls_causal_conv1d_step_params& p = worker->params;
  const bool on_device = GetBool(args, "outputsOnDevice");
  p.batch = GetDim(args, "batch");
  p.dim = GetDim(args, "dim");
  p.width = GetDim(args, "width");
  p.activation = GetBool(args, "silu") ? LS_ACTIVATION_SILU : LS_ACTIVATION_NONE;
  const int64_t bd = Elements(env, "x", {p.batch, p.dim});
  worker->InOut(args, "state", Elements(env, "state", {p.batch, p.dim, p.width - 1}), &p.state);
  worker->Input(args, "x", bd, LS_FLOAT32, true, &p.x);
  worker->Input(args, "weight", Elements(env, "weight", {p.dim, p.width}), LS_FLOAT32, true, &p.weight);
  worker->Input(args, "bias", p.dim, LS_FLOAT32, false, &p.bias);
  worker->Output("y", bd, LS_FLOAT32, on_device, &p.y);
  return worker.release()->Queue();
}

}  // namespace ls_addon
