// mambaBlocksStep: JS object in, ls_mamba_blocks_step_cpu on a worker thread, Promise out.
#include <memory>
#include <string>
#include <vector>

#include "addon/marshal.h"
#include "addon/ops.h"

namespace ls_addon {
namespace {

class MambaBlocksStepWorker : public OpWorker {
 public:
  explicit MambaBlocksStepWorker(Napi::Env env) : OpWorker(env, "mambaBlocksStep") {}
  ls_mamba_blocks_step_params params = {};
  std::vector<ls_mamba_block> blocks;

 private:
  ls_status Run() override {
    params.blocks = blocks.data();
    params.num_blocks = static_cast<int64_t>(blocks.size());
    return ls_mamba_blocks_step_cpu(&params);
  }
};

}  // namespace

// args: { threads, batch, hiddenSize, inner, dstate, dtRank, convWidth, eps, hidden, blocks: [{ norm, inProj,
// convWeight, convBias?, xProj, dtProj, dtBias, A, D, outProj, convState, ssmState }] }. Updates the states in
// place; resolves to { y }.
Napi::Value MambaBlocksStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "mambaBlocksStep(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<MambaBlocksStepWorker>(env);
  ls_mamba_blocks_step_params& p = worker->params;
  OpWorker* w = worker.get();
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, w);
  p.batch = GetDim(args, "batch");
  p.hidden_size = GetDim(args, "hiddenSize");
  p.inner = GetDim(args, "inner");
  p.dstate = GetDim(args, "dstate");
  p.dt_rank = GetDim(args, "dtRank");
  p.conv_width = GetDim(args, "convWidth");
  p.eps = GetFloat(args, "eps");
  const int64_t H = p.hidden_size, I = p.inner, N = p.dstate, R = p.dt_rank;
  const int64_t rows = Elements(env, "hidden", {p.batch, H});
  p.hidden = GetInput(args, "hidden", rows, true, w);
  const Napi::Value list = args.Get("blocks");
  if (!list.IsArray() || list.As<Napi::Array>().Length() == 0) throw Napi::TypeError::New(env, "blocks: must be a non-empty array");
  const Napi::Array array = list.As<Napi::Array>();
  const int64_t in_proj = Elements(env, "inProj", {2 * I, H}), conv_weight = Elements(env, "convWeight", {I, p.conv_width});
  const int64_t x_proj = Elements(env, "xProj", {R + 2 * N, I}), dt_proj = Elements(env, "dtProj", {I, R});
  const int64_t A = Elements(env, "A", {I, N}), out_proj = Elements(env, "outProj", {H, I});
  const int64_t conv_state = Elements(env, "convState", {p.batch, I, p.conv_width - 1});
  const int64_t ssm_state = Elements(env, "ssmState", {p.batch, I, N});
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const Napi::Value item = array.Get(i);
    if (!item.IsObject()) throw Napi::TypeError::New(env, "blocks[" + std::to_string(i) + "]: must be an object");
    const Napi::Object b = item.As<Napi::Object>();
    ls_mamba_block block = {};
    block.norm = GetInput(b, "norm", H, true, w);
    block.in_proj = GetInput(b, "inProj", in_proj, true, w);
    block.conv_weight = GetInput(b, "convWeight", conv_weight, true, w);
    block.conv_bias = GetInput(b, "convBias", I, false, w);
    block.x_proj = GetInput(b, "xProj", x_proj, true, w);
    block.dt_proj = GetInput(b, "dtProj", dt_proj, true, w);
    block.dt_bias = GetInput(b, "dtBias", I, true, w);
    block.A = GetInput(b, "A", A, true, w);
    block.D = GetInput(b, "D", I, true, w);
    block.out_proj = GetInput(b, "outProj", out_proj, true, w);
    block.conv_state = GetInOut(b, "convState", conv_state, w);
    block.ssm_state = GetInOut(b, "ssmState", ssm_state, w);
    worker->blocks.push_back(block);
  }
  p.y = NewOutput(env, "y", rows, w);
  return worker.release()->Queue();
}

}  // namespace ls_addon
