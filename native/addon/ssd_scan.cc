// ssdScan / ssdScanStep: JS object in, ls_ssd_scan*_cpu on a worker thread, Promise out.
#include <memory>

#include "addon/marshal.h"
#include "addon/ops.h"
#include "addon/ssd_scan_sizes.h"

namespace ls_addon {
namespace {

class SsdScanWorker : public OpWorker {
 public:
  explicit SsdScanWorker(Napi::Env env) : OpWorker(env, "ssdScan") {}
  ls_ssd_scan_params params = {};

 private:
  ls_status Run() override { return ls_ssd_scan_cpu(&params); }
};

class SsdScanStepWorker : public OpWorker {
 public:
  explicit SsdScanStepWorker(Napi::Env env) : OpWorker(env, "ssdScanStep") {}
  ls_ssd_scan_step_params params = {};

 private:
  ls_status Run() override { return ls_ssd_scan_step_cpu(&params); }
};

// D is [heads] or [heads, head_dim]: its length says which.
const float* GetSkip(const Napi::Object& args, int64_t heads, int64_t head_dim, int32_t* per_dim, OpWorker* worker) {
  const Napi::Value value = args.Get("D");
  *per_dim = 0;
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().ElementLength() == static_cast<size_t>(heads * head_dim) &&
      head_dim > 1) {
    *per_dim = 1;
    return GetInput(args, "D", heads * head_dim, false, worker);
  }
  return GetInput(args, "D", heads, false, worker);
}

}  // namespace

void ReadSsdScanSizes(const Napi::Object& args, ls_ssd_scan_params* p) {
  p->batch = GetDim(args, "batch");
  p->seqlen = GetDim(args, "seqlen");
  p->heads = GetDim(args, "heads");
  p->head_dim = GetDim(args, "headDim");
  p->groups = GetDim(args, "groups");
  p->dstate = GetDim(args, "dstate");
  p->dt_softplus = GetBool(args, "dtSoftplus");
  p->dt_min = GetFloat(args, "dtMin");
  p->dt_max = GetBound(args, "dtMax");
  p->chunk_size = static_cast<int32_t>(GetDim(args, "chunkSize"));
  p->algorithm = GetEnum(args, "algorithm", 2);
}

void ReadSsdScanStepSizes(const Napi::Object& args, ls_ssd_scan_step_params* p) {
  p->batch = GetDim(args, "batch");
  p->heads = GetDim(args, "heads");
  p->head_dim = GetDim(args, "headDim");
  p->groups = GetDim(args, "groups");
  p->dstate = GetDim(args, "dstate");
  p->dt_softplus = GetBool(args, "dtSoftplus");
  p->dt_min = GetFloat(args, "dtMin");
  p->dt_max = GetBound(args, "dtMax");
}

// args: { threads, cancel?, batch, seqlen, heads, headDim, groups, dstate, dtSoftplus, dtMin, dtMax, chunkSize,
//         algorithm (0 auto, 1 chunked, 2 recurrent), returnFinalState, x, dt, A, B, C, D?, z?, dtBias?,
//         initialState? }. Resolves to { y, finalState? }.
Napi::Value SsdScan(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "ssdScan(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<SsdScanWorker>(env);
  ls_ssd_scan_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  ReadSsdScanSizes(args, &p);
  const int64_t blhp = Elements(env, "x", {p.batch, p.seqlen, p.heads, p.head_dim});
  const int64_t blgn = Elements(env, "B", {p.batch, p.seqlen, p.groups, p.dstate});
  const int64_t state = Elements(env, "initialState", {p.batch, p.heads, p.head_dim, p.dstate});
  p.x = GetInput(args, "x", blhp, true, worker.get());
  p.dt = GetInput(args, "dt", Elements(env, "dt", {p.batch, p.seqlen, p.heads}), true, worker.get());
  p.A = GetInput(args, "A", p.heads, true, worker.get());
  p.B = GetInput(args, "B", blgn, true, worker.get());
  p.C = GetInput(args, "C", blgn, true, worker.get());
  p.D = GetSkip(args, p.heads, p.head_dim, &p.D_per_dim, worker.get());
  p.z = GetInput(args, "z", blhp, false, worker.get());
  p.dt_bias = GetInput(args, "dtBias", p.heads, false, worker.get());
  p.initial_state = GetInput(args, "initialState", state, false, worker.get());
  p.y = NewOutput(env, "y", blhp, worker.get());
  p.final_state = GetBool(args, "returnFinalState") ? NewOutput(env, "finalState", state, worker.get()) : nullptr;
  return worker.release()->Queue();
}

// args: { threads, cancel?, batch, heads, headDim, groups, dstate, dtSoftplus, dtMin, dtMax, state, x, dt, A, B,
//         C, D?, z?, dtBias? }. Updates state in place; resolves to { y }.
Napi::Value SsdScanStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "ssdScanStep(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<SsdScanStepWorker>(env);
  ls_ssd_scan_step_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  ReadSsdScanStepSizes(args, &p);
  const int64_t bhp = Elements(env, "x", {p.batch, p.heads, p.head_dim});
  const int64_t bgn = Elements(env, "B", {p.batch, p.groups, p.dstate});
  p.state = GetInOut(args, "state", Elements(env, "state", {p.batch, p.heads, p.head_dim, p.dstate}), worker.get());
  p.x = GetInput(args, "x", bhp, true, worker.get());
  p.dt = GetInput(args, "dt", Elements(env, "dt", {p.batch, p.heads}), true, worker.get());
  p.A = GetInput(args, "A", p.heads, true, worker.get());
  p.B = GetInput(args, "B", bgn, true, worker.get());
  p.C = GetInput(args, "C", bgn, true, worker.get());
  p.D = GetSkip(args, p.heads, p.head_dim, &p.D_per_dim, worker.get());
  p.z = GetInput(args, "z", bhp, false, worker.get());
  p.dt_bias = GetInput(args, "dtBias", p.heads, false, worker.get());
  p.y = NewOutput(env, "y", bhp, worker.get());
  return worker.release()->Queue();
}

}  // namespace ls_addon
