// linear: JS object in, ls_linear_cpu on a worker thread, Promise out.
#include <memory>

#include "addon/marshal.h"
#include "addon/ops.h"

namespace ls_addon {
namespace {

class LinearWorker : public OpWorker {
 public:
  explicit LinearWorker(Napi::Env env) : OpWorker(env, "linear") {}
  ls_linear_params params = {};

 private:
  ls_status Run() override { return ls_linear_cpu(&params); }
};

}  // namespace

// args: { threads, rows, inFeatures, outFeatures, x, weight, bias? } with contiguous Float32Arrays; resolves to { y }.
Napi::Value Linear(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "linear(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<LinearWorker>(env);
  ls_linear_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  p.rows = GetDim(args, "rows");
  p.in_features = GetDim(args, "inFeatures");
  p.out_features = GetDim(args, "outFeatures");
  p.x = GetInput(args, "x", Elements(env, "x", {p.rows, p.in_features}), true, worker.get());
  p.weight = GetInput(args, "weight", Elements(env, "weight", {p.out_features, p.in_features}), true, worker.get());
  p.bias = GetInput(args, "bias", p.out_features, false, worker.get());
  p.y = NewOutput(env, "y", Elements(env, "y", {p.rows, p.out_features}), worker.get());
  return worker.release()->Queue();
}

}  // namespace ls_addon
