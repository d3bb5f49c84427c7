// selectiveScan / selectiveScanStep: JS object in, ls_selective_scan*_cpu on a worker thread, Promise out.
#include <memory>

#include "addon/marshal.h"
#include "addon/ops.h"
#include "addon/selective_scan_sizes.h"

namespace ls_addon {
namespace {

class SelectiveScanWorker : public OpWorker {
 public:
  explicit SelectiveScanWorker(Napi::Env env) : OpWorker(env, "selectiveScan") {}
  ls_selective_scan_params params = {};

 private:
  ls_status Run() override { return ls_selective_scan_cpu(&params); }
};

class SelectiveScanStepWorker : public OpWorker {
 public:
  explicit SelectiveScanStepWorker(Napi::Env env) : OpWorker(env, "selectiveScanStep") {}
  ls_selective_scan_step_params params = {};

 private:
  ls_status Run() override { return ls_selective_scan_step_cpu(&params); }
};

}  // namespace

void ReadScanSizes(const Napi::Object& args, ls_selective_scan_params* p) {
  p->batch = GetDim(args, "batch");
  p->dim = GetDim(args, "dim");
  p->dstate = GetDim(args, "dstate");
  p->seqlen = GetDim(args, "seqlen");
  p->groups = GetDim(args, "groups");
  p->delta_softplus = GetBool(args, "deltaSoftplus");
  Elements(args.Env(), "u", {p->batch, p->dim, p->seqlen});  // the strides below stay within 2^53
  Elements(args.Env(), "B", {p->batch, p->groups, p->dstate, p->seqlen});
  p->u_strides = p->delta_strides = p->z_strides = p->y_strides = {p->dim * p->seqlen, p->seqlen};
  p->B_strides = p->C_strides = {p->groups * p->dstate * p->seqlen, p->seqlen};
}

void ReadScanStepSizes(const Napi::Object& args, ls_selective_scan_step_params* p) {
  p->batch = GetDim(args, "batch");
  p->dim = GetDim(args, "dim");
  p->dstate = GetDim(args, "dstate");
  p->groups = GetDim(args, "groups");
  p->delta_softplus = GetBool(args, "deltaSoftplus");
}

// args: { threads, batch, dim, dstate, seqlen, groups, deltaSoftplus, returnFinalState, u, delta, A, B, C,
//         D?, z?, deltaBias?, initialState? } with contiguous Float32Arrays; resolves to { y, finalState? }.
Napi::Value SelectiveScan(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "selectiveScan(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<SelectiveScanWorker>(env);
  ls_selective_scan_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  ReadScanSizes(args, &p);
  const int64_t bdl = Elements(env, "u", {p.batch, p.dim, p.seqlen});
  const int64_t bgnl = Elements(env, "B", {p.batch, p.groups, p.dstate, p.seqlen});
  const int64_t bdn = Elements(env, "initialState", {p.batch, p.dim, p.dstate});
  p.u = GetInput(args, "u", bdl, true, worker.get());
  p.delta = GetInput(args, "delta", bdl, true, worker.get());
  p.z = GetInput(args, "z", bdl, false, worker.get());
  p.A = GetInput(args, "A", Elements(env, "A", {p.dim, p.dstate}), true, worker.get());
  p.B = GetInput(args, "B", bgnl, true, worker.get());
  p.C = GetInput(args, "C", bgnl, true, worker.get());
  p.D = GetInput(args, "D", p.dim, false, worker.get());
  p.delta_bias = GetInput(args, "deltaBias", p.dim, false, worker.get());
  p.initial_state = GetInput(args, "initialState", bdn, false, worker.get());
  p.y = NewOutput(env, "y", bdl, worker.get());
  p.final_state = GetBool(args, "returnFinalState") ? NewOutput(env, "finalState", bdn, worker.get()) : nullptr;
  return worker.release()->Queue();
}

// args: { threads, batch, dim, dstate, groups, deltaSoftplus, state, x, delta, A, B, C, D?, z?, deltaBias? }
// Updates state in place; resolves to { y }.
Napi::Value SelectiveScanStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "selectiveScanStep(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<SelectiveScanStepWorker>(env);
  ls_selective_scan_step_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  ReadScanStepSizes(args, &p);
  const int64_t bd = Elements(env, "x", {p.batch, p.dim});
  const int64_t bgn = Elements(env, "B", {p.batch, p.groups, p.dstate});
  p.state = GetInOut(args, "state", Elements(env, "state", {p.batch, p.dim, p.dstate}), worker.get());
  p.x = GetInput(args, "x", bd, true, worker.get());
  p.delta = GetInput(args, "delta", bd, true, worker.get());
  p.z = GetInput(args, "z", bd, false, worker.get());
  p.A = GetInput(args, "A", Elements(env, "A", {p.dim, p.dstate}), true, worker.get());
  p.B = GetInput(args, "B", bgn, true, worker.get());
  p.C = GetInput(args, "C", bgn, true, worker.get());
  p.D = GetInput(args, "D", p.dim, false, worker.get());
  p.delta_bias = GetInput(args, "deltaBias", p.dim, false, worker.get());
  p.y = NewOutput(env, "y", bd, worker.get());
  return worker.release()->Queue();
}

}  // namespace ls_addon
