// cudaFftConv / cudaFftConvSpectrum: fftConv on the GPU, with host TypedArrays (copied in and out) or device
// handles for u, k, D and y; u, k and y in float32 or bfloat16 (`storage`), D float32; a plan's spectrum is a
// device handle.
#include <memory>

#include "addon/cuda.h"
#include "addon/ops.h"

namespace ls_addon {
namespace {

class CudaFftConvWorker : public CudaOpWorker {
 public:
  explicit CudaFftConvWorker(Napi::Env env) : CudaOpWorker(env, "fftConv") {}
  ls_fft_conv_params params = {};

 private:
  ls_status Run() override {
    ls_status s = Stage();
    if (s == LS_OK) s = ls_fft_conv_cuda(&params, nullptr);
    return Finish(s);
  }
};

class CudaFftConvSpectrumWorker : public CudaOpWorker {
 public:
  explicit CudaFftConvSpectrumWorker(Napi::Env env) : CudaOpWorker(env, "fftConvPlan") {}
  ls_fft_conv_spectrum_params params = {};

 private:
  ls_status Run() override {
    ls_status s = Stage();
    if (s == LS_OK) s = ls_fft_conv_spectrum_cuda(&params, nullptr);
    return Finish(s);
  }
};

int64_t SpectrumFloats(const Napi::Env& env, int64_t channels, int64_t seqlen, int64_t kernel_len) {
  const int64_t floats = ls_fft_conv_spectrum_floats_cuda(channels, seqlen, kernel_len);
  if (floats < 0) throw Napi::RangeError::New(env, "on the GPU, fftConv needs kernelLen <= seqlen and seqlen + kernelLen - 1 <= 2^24");
  return floats;
}

}  // namespace

// args: as fftConv's (batch, channels, seqlen, kernelLen, u, k? or spectrum (a handle from cudaFftConvSpectrum),
// D?), plus { storage (0 float32, 1 bfloat16), outputsOnDevice }. Resolves to { y }, a TypedArray or a handle.
Napi::Value CudaFftConv(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaFftConv(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CudaFftConvWorker>(env);
  ls_fft_conv_params& p = worker->params;
  const bool on_device = GetBool(args, "outputsOnDevice");
  p.batch = GetDim(args, "batch");
  p.channels = GetDim(args, "channels");
  p.seqlen = GetDim(args, "seqlen");
  p.kernel_len = GetDim(args, "kernelLen");
  p.storage = GetEnum(args, "storage", LS_BFLOAT16);
  const int64_t bhl = Elements(env, "u", {p.batch, p.channels, p.seqlen});
  const int64_t spectrum = SpectrumFloats(env, p.channels, p.seqlen, p.kernel_len);
  worker->Input(args, "u", bhl, p.storage, true, &p.u);
  const bool planned = !args.Get("spectrum").IsUndefined();  // the fields are set only once staged
  worker->Input(args, "spectrum", spectrum, LS_FLOAT32, false, &p.spectrum);
  worker->Input(args, "k", Elements(env, "k", {p.channels, p.kernel_len}), p.storage, !planned, &p.k);
  worker->Input(args, "D", p.channels, LS_FLOAT32, false, &p.D);
  worker->Output("y", bhl, p.storage, on_device, &p.y);
  return worker.release()->Queue();
}

// args: { channels, seqlen, kernelLen, k, storage (of k) }. Resolves to { spectrum }, a device handle.
Napi::Value CudaFftConvSpectrum(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaFftConvSpectrum(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<CudaFftConvSpectrumWorker>(env);
  ls_fft_conv_spectrum_params& p = worker->params;
  p.channels = GetDim(args, "channels");
  p.seqlen = GetDim(args, "seqlen");
  p.kernel_len = GetDim(args, "kernelLen");
  p.storage = GetEnum(args, "storage", LS_BFLOAT16);
  const int64_t spectrum = SpectrumFloats(env, p.channels, p.seqlen, p.kernel_len);
  worker->Input(args, "k", Elements(env, "k", {p.channels, p.kernel_len}), p.storage, true, &p.k);
  worker->Output("spectrum", spectrum, LS_FLOAT32, true, &p.spectrum);
  return worker.release()->Queue();
}

}  // namespace ls_addon
