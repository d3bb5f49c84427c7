// fftConv / fftConvSpectrum: JS object in, ls_fft_conv*_cpu on a worker thread, Promise out.
#include <memory>

#include "addon/marshal.h"
#include "addon/ops.h"

namespace ls_addon {
namespace {

class FftConvWorker : public OpWorker {
 public:
  explicit FftConvWorker(Napi::Env env) : OpWorker(env, "fftConv") {}
  ls_fft_conv_params params = {};

 private:
  ls_status Run() override { return ls_fft_conv_cpu(&params); }
};

class FftConvSpectrumWorker : public OpWorker {
 public:
  explicit FftConvSpectrumWorker(Napi::Env env) : OpWorker(env, "fftConvPlan") {}
  ls_fft_conv_spectrum_params params = {};

 private:
  ls_status Run() override { return ls_fft_conv_spectrum_cpu(&params); }
};

int64_t SpectrumFloats(const Napi::Env& env, int64_t channels, int64_t seqlen, int64_t kernel_len) {
  const int64_t floats = ls_fft_conv_spectrum_floats(channels, seqlen, kernel_len);
  if (floats < 0) throw Napi::RangeError::New(env, "kernelLen must be <= seqlen <= 2^30");
  return floats;
}

}  // namespace

// args: { threads, batch, channels, seqlen, kernelLen, algorithm (0 auto, 1 fft, 2 direct), u, k?, spectrum?,
//         D? }; k or spectrum is required. Resolves to { y }.
Napi::Value FftConv(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "fftConv(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<FftConvWorker>(env);
  ls_fft_conv_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  p.batch = GetDim(args, "batch");
  p.channels = GetDim(args, "channels");
  p.seqlen = GetDim(args, "seqlen");
  p.kernel_len = GetDim(args, "kernelLen");
  p.algorithm = GetEnum(args, "algorithm", 2);
  const int64_t bhl = Elements(env, "u", {p.batch, p.channels, p.seqlen});
  p.u = GetInput(args, "u", bhl, true, worker.get());
  p.spectrum = GetInput(args, "spectrum", SpectrumFloats(env, p.channels, p.seqlen, p.kernel_len), false, worker.get());
  p.k = GetInput(args, "k", Elements(env, "k", {p.channels, p.kernel_len}), p.spectrum == nullptr, worker.get());
  p.D = GetInput(args, "D", p.channels, false, worker.get());
  p.y = NewOutput(env, "y", bhl, worker.get());
  return worker.release()->Queue();
}

// args: { threads, channels, seqlen, kernelLen, k }. Resolves to { spectrum }.
Napi::Value FftConvSpectrum(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "fftConvSpectrum(args): args must be an object");
  const Napi::Object args = info[0].As<Napi::Object>();
  auto worker = std::make_unique<FftConvSpectrumWorker>(env);
  ls_fft_conv_spectrum_params& p = worker->params;
  p.threads = GetThreads(args);
  p.cancel = GetCancel(args, worker.get());
  p.channels = GetDim(args, "channels");
  p.seqlen = GetDim(args, "seqlen");
  p.kernel_len = GetDim(args, "kernelLen");
  p.k = GetInput(args, "k", Elements(env, "k", {p.channels, p.kernel_len}), true, worker.get());
  p.spectrum = NewOutput(env, "spectrum", SpectrumFloats(env, p.channels, p.seqlen, p.kernel_len), worker.get());
  return worker.release()->Queue();
}

}  // namespace ls_addon
