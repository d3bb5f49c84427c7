// cudaDeltaRule / cudaDeltaRuleStep: the delta rule on the GPU, with host TypedArrays (copied in and out) or device
// handles for any tensor; q, k, v and o in the call's storage type, the rest float32.
#include <memory>

#include "addon/cuda.h"
#include "addon/delta_rule_sizes.h"
#include "addon/ops.h"

namespace ls_addon {
namespace {

class CudaDeltaRuleWorker : public CudaOpWorker {
 public:
  explicit CudaDeltaRuleWorker(Napi::Env env) : CudaOpWorker(env, "deltaRule") {}
  ls_delta_rule_params params = {};

 private:
  ls_status Run() override {
    ls_status s = Stage();
    if (s == LS_OK) s = ls_delta_rule_cuda(&params, nullptr);
    return Finish(s);
  }
};

class CudaDeltaRuleStepWorker : public CudaOpWorker {
 public:
  explicit CudaDeltaRuleStepWorker(Napi::Env env) : CudaOpWorker(env, "deltaRuleStep") {}
  ls_delta_rule_step_params params = {};

 private:
  ls_status Run() override {
    ls_status s = Stage();
    if (s == LS_OK) s = ls_delta_rule_step_cuda(&params, nullptr);
    return Finish(s);
  }
};

}  // namespace

// args: as deltaRule's (batch, seqlen, heads, valueHeads, keyDim, valueDim, scale, useQkL2Norm, chunkSize,
// algorithm, returnFinalState, q, k, v, beta, g?, initialState?), plus { storage: 0 float32 | 1 bfloat16 (of q, k,
// v and o), outputsOnDevice, allowBf16Products }. Resolves to { o, finalState? }, TypedArrays or handles.
Napi::Value CudaDeltaRule(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaDeltaRule(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CudaDeltaRuleWorker>(env);
  ls_delta_rule_params& p = worker->params;
  const bool on_device = GetBool(args, "outputsOnDevice");
  ReadDeltaRuleSizes(args, &p);
  p.storage = GetEnum(args, "storage", LS_BFLOAT16);
  p.allow_bf16_products = GetBool(args, "allowBf16Products");
  const int64_t bthk = Elements(env, "q", {p.batch, p.seqlen, p.heads, p.key_dim});
  const int64_t bth = Elements(env, "beta", {p.batch, p.seqlen, p.value_heads});
  const int64_t state = Elements(env, "initialState", {p.batch, p.value_heads, p.key_dim, p.value_dim});
  const int64_t bthv = Elements(env, "v", {p.batch, p.seqlen, p.value_heads, p.value_dim});
  worker->Input(args, "q", bthk, p.storage, true, &p.q);
  worker->Input(args, "k", bthk, p.storage, true, &p.k);
  worker->Input(args, "v", bthv, p.storage, true, &p.v);
  worker->Input(args, "beta", bth, LS_FLOAT32, true, &p.beta);
  worker->Input(args, "g", bth, LS_FLOAT32, false, &p.g);
  worker->Input(args, "initialState", state, LS_FLOAT32, false, &p.initial_state);
  worker->Output("o", bthv, p.storage, on_device, &p.o);
  if (GetBool(args, "returnFinalState")) worker->Output("finalState", state, LS_FLOAT32, on_device, &p.final_state);
  return worker.release()->Queue();
}

// args: as deltaRuleStep's (batch, heads, valueHeads, keyDim, valueDim, scale, useQkL2Norm, state, q, k, v, beta,
// g?), plus { storage, outputsOnDevice }; state (float32) is a Float32Array (copied in and back) or a handle, updated
// in place. Resolves to { o }.
Napi::Value CudaDeltaRuleStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaDeltaRuleStep(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CudaDeltaRuleStepWorker>(env);
  ls_delta_rule_step_params& p = worker->params;
  const bool on_device = GetBool(args, "outputsOnDevice");
  ReadDeltaRuleStepSizes(args, &p);
  p.storage = GetEnum(args, "storage", LS_BFLOAT16);
  const int64_t bhk = Elements(env, "q", {p.batch, p.heads, p.key_dim});
  const int64_t bh = Elements(env, "beta", {p.batch, p.value_heads});
  const int64_t bhv = Elements(env, "v", {p.batch, p.value_heads, p.value_dim});
  worker->InOut(args, "state", Elements(env, "state", {p.batch, p.value_heads, p.key_dim, p.value_dim}), &p.state);
  worker->Input(args, "q", bhk, p.storage, true, &p.q);
  worker->Input(args, "k", bhk, p.storage, true, &p.k);
  worker->Input(args, "v", bhv, p.storage, true, &p.v);
  worker->Input(args, "beta", bh, LS_FLOAT32, true, &p.beta);
  worker->Input(args, "g", bh, LS_FLOAT32, false, &p.g);
  worker->Output("o", bhv, p.storage, on_device, &p.o);
  return worker.release()->Queue();
}

}  // namespace ls_addon
