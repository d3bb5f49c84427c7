// causalConv1d / causalConv1dStep: JS object in, ls_causal_conv1d*_cpu on a worker thread, Promise out.
#include <memory>

#include "addon/marshal.h"
#include "addon/ops.h"

namespace ls_addon {
namespace {

class CausalConv1dWorker : public OpWorker {
 public:
  explicit CausalConv1dWorker(Napi::Env env) : OpWorker(env, "causalConv1d") {}
  ls_causal_conv1d_params params = {};

 private:
  ls_status Run() override { return ls_causal_conv1d_cpu(&params); }
};

class CausalConv1dStepWorker : public OpWorker {
 public:
  explicit CausalConv1dStepWorker(Napi::Env env) : OpWorker(env, "causalConv1dStep") {}
  ls_causal_conv1d_step_params params = {};

 private:
  ls_status Run() override { return ls_causal_conv1d_step_cpu(&params); }
};

}  // namespace

// args: { threads, batch, dim, seqlen, width, silu, returnFinalState, x, weight, bias?, initialState? }
// Resolves to { y, finalState? }.
Napi::Value CausalConv1d(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "causalConv1d(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CausalConv1dWorker>(env);
  ls_causal_conv1d_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  p.batch = GetDim(args, "batch");
  p.dim = GetDim(args, "dim");
  p.seqlen = GetDim(args, "seqlen");
  p.width = GetDim(args, "width");
  p.activation = GetBool(args, "silu") ? LS_ACTIVATION_SILU : LS_ACTIVATION_NONE;
  const int64_t bdl = Elements(env, "x", {p.batch, p.dim, p.seqlen});
  const int64_t state = Elements(env, "initialState", {p.batch, p.dim, p.width - 1});
  p.x = GetInput(args, "x", bdl, true, worker.get());
  p.weight = GetInput(args, "weight", Elements(env, "weight", {p.dim, p.width}), true, worker.get());
  p.bias = GetInput(args, "bias", p.dim, false, worker.get());
  p.initial_state = GetInput(args, "initialState", state, false, worker.get());
  p.y = NewOutput(env, "y", bdl, worker.get());
  p.final_state = GetBool(args, "returnFinalState") ? NewOutput(env, "finalState", state, worker.get()) : nullptr;
  return worker.release()->Queue();
}

// args: { threads, batch, dim, width, silu, state, x, weight, bias? }. Updates state in place; resolves to { y }.
Napi::Value CausalConv1dStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "causalConv1dStep(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CausalConv1dStepWorker>(env);
  ls_causal_conv1d_step_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  p.batch = GetDim(args, "batch");
  p.dim = GetDim(args, "dim");
  p.width = GetDim(args, "width");
  p.activation = GetBool(args, "silu") ? LS_ACTIVATION_SILU : LS_ACTIVATION_NONE;
  const int64_t bd = Elements(env, "x", {p.batch, p.dim});
  p.state = GetInOut(args, "state", Elements(env, "state", {p.batch, p.dim, p.width - 1}), worker.get());
  p.x = GetInput(args, "x", bd, true, worker.get());
  p.weight = GetInput(args, "weight", Elements(env, "weight", {p.dim, p.width}), true, worker.get());
  p.bias = GetInput(args, "bias", p.dim, false, worker.get());
  p.y = NewOutput(env, "y", bd, worker.get());
  return worker.release()->Queue();
}

}  // namespace ls_addon
