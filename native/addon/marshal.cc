#include "addon/marshal.h"

#include <string>

namespace ls_addon {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

[[noreturn]] void ThrowType(const Napi::Env& env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

[[noreturn]] void ThrowRange(const Napi::Env& env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

float* GetFloats(const Napi::Object& args, const char* name, int64_t elements, bool required,
                 OpWorker* worker) {
  const Napi::Env env = args.Env();
  const Napi::Value value = args.Get(name);
  if (value.IsUndefined() && !required) return nullptr;
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    ThrowType(env, std::string(name) + " must be a Float32Array");
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  if (static_cast<int64_t>(array.ElementLength()) != elements) {
    ThrowRange(env, std::string(name) + " must hold " + std::to_string(elements) + " elements, got " +
                        std::to_string(array.ElementLength()));
  }
  worker->Keep(value);
  return array.Data();
}

}  // namespace

OpWorker::OpWorker(Napi::Env env, const char* op)
    : Napi::AsyncWorker(env, op), deferred_(Napi::Promise::Deferred::New(env)), op_(op) {}

Napi::Promise OpWorker::Queue() {
  Napi::Promise promise = deferred_.Promise();
  Napi::AsyncWorker::Queue();
  return promise;
}

void OpWorker::Keep(Napi::Value value) { kept_.push_back(Napi::Persistent(value)); }

void OpWorker::Execute() {
  status_ = Run();
  // ls_last_error() is per thread: read it here, on the thread that ran the kernel.
  if (status_ != LS_OK) SetError(std::string(op_) + ": " + ls_last_error());
}

void OpWorker::OnOK() { deferred_.Resolve(Env().Undefined()); }

void OpWorker::OnError(const Napi::Error& error) {
  const Napi::Env env = Env();
  const std::string message = error.Message();
  if (status_ == LS_INVALID_ARGUMENT || status_ == LS_OUT_OF_MEMORY) {
    deferred_.Reject(Napi::RangeError::New(env, message).Value());
  } else {
    deferred_.Reject(Napi::Error::New(env, message).Value());
  }
}

int64_t GetDim(const Napi::Object& args, const char* name) {
  const Napi::Env env = args.Env();
  const Napi::Value value = args.Get(name);
  if (!value.IsNumber()) ThrowType(env, std::string(name) + " must be a number");
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!(x >= 1 && x <= kMaxSafeInteger) || x != static_cast<double>(static_cast<int64_t>(x))) {
    ThrowRange(env, std::string(name) + " must be an integer >= 1, got " + value.ToString().Utf8Value());
  }
  return static_cast<int64_t>(x);
}

bool GetBool(const Napi::Object& args, const char* name) {
  const Napi::Value value = args.Get(name);
  if (!value.IsBoolean()) ThrowType(args.Env(), std::string(name) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

int32_t GetThreads(const Napi::Object& args) {
  const Napi::Value value = args.Get("threads");
  if (!value.IsNumber()) ThrowType(args.Env(), "threads must be a number");
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!(x >= 0 && x <= 65536) || x != static_cast<double>(static_cast<int32_t>(x))) {
    ThrowRange(args.Env(), "threads must be an integer in [0, 65536], got " + value.ToString().Utf8Value());
  }
  return static_cast<int32_t>(x);
}

const float* GetInput(const Napi::Object& args, const char* name, int64_t elements, bool required,
                      OpWorker* worker) {
  return GetFloats(args, name, elements, required, worker);
}

float* GetOutput(const Napi::Object& args, const char* name, int64_t elements, bool required,
                 OpWorker* worker) {
  return GetFloats(args, name, elements, required, worker);
}

int64_t Elements(const Napi::Env& env, const char* name, std::initializer_list<int64_t> dims) {
  double product = 1;
  int64_t exact = 1;
  for (int64_t d : dims) {
    product *= static_cast<double>(d);
    if (product > kMaxSafeInteger) ThrowRange(env, std::string(name) + " has more than 2^53 elements");
    exact *= d;
  }
  return exact;
}

}  // namespace ls_addon
