// deltaRule / deltaRuleStep: JS object in, ls_delta_rule*_cpu on a worker thread, Promise out.
#include <memory>

#include "addon/delta_rule_sizes.h"
#include "addon/marshal.h"
#include "addon/ops.h"

namespace ls_addon {
namespace {

class DeltaRuleWorker : public OpWorker {
 public:
  explicit DeltaRuleWorker(Napi::Env env) : OpWorker(env, "deltaRule") {}
  ls_delta_rule_params params = {};

 private:
  ls_status Run() override { return ls_delta_rule_cpu(&params); }
};

class DeltaRuleStepWorker : public OpWorker {
 public:
  explicit DeltaRuleStepWorker(Napi::Env env) : OpWorker(env, "deltaRuleStep") {}
  ls_delta_rule_step_params params = {};

 private:
  ls_status Run() override { return ls_delta_rule_step_cpu(&params); }
};

}  // namespace

void ReadDeltaRuleSizes(const Napi::Object& args, ls_delta_rule_params* p) {
  p->batch = GetDim(args, "batch");
  p->seqlen = GetDim(args, "seqlen");
  p->heads = GetDim(args, "heads");
  p->value_heads = GetDim(args, "valueHeads");
  p->key_dim = GetDim(args, "keyDim");
  p->value_dim = GetDim(args, "valueDim");
  p->scale = GetFloat(args, "scale");
  p->use_qk_l2norm = GetBool(args, "useQkL2Norm");
  p->chunk_size = static_cast<int32_t>(GetDim(args, "chunkSize"));
  p->algorithm = GetEnum(args, "algorithm", 2);
}

void ReadDeltaRuleStepSizes(const Napi::Object& args, ls_delta_rule_step_params* p) {
  p->batch = GetDim(args, "batch");
  p->heads = GetDim(args, "heads");
  p->value_heads = GetDim(args, "valueHeads");
  p->key_dim = GetDim(args, "keyDim");
  p->value_dim = GetDim(args, "valueDim");
  p->scale = GetFloat(args, "scale");
  p->use_qk_l2norm = GetBool(args, "useQkL2Norm");
}

// args: { threads, batch, seqlen, heads, valueHeads, keyDim, valueDim, scale, useQkL2Norm, chunkSize,
//         algorithm (0 auto, 1 chunked, 2 recurrent), returnFinalState, q, k, v, beta, g?, initialState? }
// Resolves to { o, finalState? }.
Napi::Value DeltaRule(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "deltaRule(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<DeltaRuleWorker>(env);
  ls_delta_rule_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  ReadDeltaRuleSizes(args, &p);
  const int64_t bthk = Elements(env, "q", {p.batch, p.seqlen, p.heads, p.key_dim});
  const int64_t bth = Elements(env, "beta", {p.batch, p.seqlen, p.value_heads});
  const int64_t state = Elements(env, "initialState", {p.batch, p.value_heads, p.key_dim, p.value_dim});
  const int64_t bthv = Elements(env, "v", {p.batch, p.seqlen, p.value_heads, p.value_dim});
  p.q = GetInput(args, "q", bthk, true, worker.get());
  p.k = GetInput(args, "k", bthk, true, worker.get());
  p.v = GetInput(args, "v", bthv, true, worker.get());
  p.beta = GetInput(args, "beta", bth, true, worker.get());
  p.g = GetInput(args, "g", bth, false, worker.get());
  p.initial_state = GetInput(args, "initialState", state, false, worker.get());
  p.o = NewOutput(env, "o", bthv, worker.get());
  p.final_state = GetBool(args, "returnFinalState") ? NewOutput(env, "finalState", state, worker.get()) : nullptr;
  return worker.release()->Queue();
}

// args: { threads, batch, heads, valueHeads, keyDim, valueDim, scale, useQkL2Norm, state, q, k, v, beta, g? }
// Updates state in place; resolves to { o }.
Napi::Value DeltaRuleStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "deltaRuleStep(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<DeltaRuleStepWorker>(env);
  ls_delta_rule_step_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  ReadDeltaRuleStepSizes(args, &p);
  const int64_t bhk = Elements(env, "q", {p.batch, p.heads, p.key_dim});
  const int64_t bh = Elements(env, "beta", {p.batch, p.value_heads});
  const int64_t bhv = Elements(env, "v", {p.batch, p.value_heads, p.value_dim});
  p.state = GetInOut(args, "state", Elements(env, "state", {p.batch, p.value_heads, p.key_dim, p.value_dim}), worker.get());
  p.q = GetInput(args, "q", bhk, true, worker.get());
  p.k = GetInput(args, "k", bhk, true, worker.get());
  p.v = GetInput(args, "v", bhv, true, worker.get());
  p.beta = GetInput(args, "beta", bh, true, worker.get());
  p.g = GetInput(args, "g", bh, false, worker.get());
  p.o = NewOutput(env, "o", bhv, worker.get());
  return worker.release()->Queue();
}

}  // namespace ls_addon
