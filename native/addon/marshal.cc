#include "addon/marshal.h"

#include <math.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#endif

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

void OpWorker::AddOutput(const char* name, Napi::Value array) { outputs_.emplace_back(name, Napi::Persistent(array)); }

void OpWorker::Execute() {
  status_ = Run();
  // ls_last_error() is per thread: read it here, on the thread that ran the kernel.
  if (status_ != LS_OK) SetError(std::string(op_) + ": " + ErrorMessage());
}

void OpWorker::OnOK() {
  Done();
  Napi::Object result = Napi::Object::New(Env());
  for (auto& [name, array] : outputs_) result.Set(name, array.Value());
  deferred_.Resolve(result);
}

void OpWorker::OnError(const Napi::Error& error) {
  Done();
  const Napi::Env env = Env();
  const std::string message = error.Message();
  if (status_ == LS_INVALID_ARGUMENT || status_ == LS_OUT_OF_MEMORY) {
    // Out of device memory too: a RangeError naming the size, as for host memory.
    deferred_.Reject(Napi::RangeError::New(env, message).Value());
  } else if (status_ == LS_CANCELLED) {
    Napi::Error aborted = Napi::Error::New(env, message);
    aborted.Set("name", Napi::String::New(env, "AbortError"));
    deferred_.Reject(aborted.Value());
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

float GetFloat(const Napi::Object& args, const char* name) {
  const Napi::Value value = args.Get(name);
  if (!value.IsNumber()) ThrowType(args.Env(), std::string(name) + " must be a number");
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x) || std::fabs(x) > 3.4e38) {
    ThrowRange(args.Env(), std::string(name) + " must be a finite float32, got " + value.ToString().Utf8Value());
  }
  return static_cast<float>(x);
}

float GetBound(const Napi::Object& args, const char* name) {
  const Napi::Value value = args.Get(name);
  if (value.IsNumber() && value.As<Napi::Number>().DoubleValue() == INFINITY) return INFINITY;
  return GetFloat(args, name);
}

int32_t GetEnum(const Napi::Object& args, const char* name, int32_t max) {
  const Napi::Value value = args.Get(name);
  if (!value.IsNumber()) ThrowType(args.Env(), std::string(name) + " must be a number");
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!(x >= 0 && x <= max) || x != static_cast<double>(static_cast<int32_t>(x))) {
    ThrowRange(args.Env(), std::string(name) + " must be an integer in [0, " + std::to_string(max) + "], got " +
                               value.ToString().Utf8Value());
  }
  return static_cast<int32_t>(x);
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

const ls_cancel_flag* GetCancel(const Napi::Object& args, OpWorker* worker) {
  const Napi::Value value = args.Get("cancel");
  if (value.IsUndefined()) return nullptr;
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      value.As<Napi::Int32Array>().ElementLength() < 1) {
    ThrowType(args.Env(), "cancel must be an Int32Array of at least one element");
  }
  worker->Keep(value);
  return value.As<Napi::Int32Array>().Data();
}

float* GetInOut(const Napi::Object& args, const char* name, int64_t elements, OpWorker* worker) {
  return GetFloats(args, name, elements, true, worker);
}

namespace {

// Outputs of at least this size get memory of their own (below): huge-page aligned, advised for THP.
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kOwnMemoryBytes = 2 * kHugePage;

// The memory of collected outputs, kept for the next outputs of the same size (in whole huge pages): calls that repeat
// an op on the same shapes, as a model's layers do, then write into memory whose pages are already mapped, where fresh
// memory must be faulted in and zeroed by the kernel first. On a 2-core AMD EPYC VM (Zen 3), one thread, the JS API's
// time over the C API's (medians of 12 alternated rounds, two runs each): ssdScan B1 L4096 H32 P64 N128 (a 33.5 MB
// output) 1.14-1.16x before, 1.10-1.11x with this; selectiveScan B1 D1536 N16 L4096 (25 MB) 1.16-1.17x before,
// 1.09-1.10x. perf put 13% of the ssdScan calls' samples in the kernel's page zeroing before, 5% after. At most
// kPoolBlocks blocks and kPoolBytes bytes are kept, the most recently freed; the process-wide pool serves every
// worker_thread's outputs, under a lock.
class OutputPool {
 public:
  // Memory of exactly `bytes` (a multiple of kHugePage) freed before, or null.
  void* Take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = blocks_.size(); i-- > 0;) {
      if (blocks_[i].second == bytes) {
        void* memory = blocks_[i].first;
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i));
        held_ -= bytes;
        return memory;
      }
    }
    return nullptr;
  }
  // Keeps `memory` (`bytes` long), freeing the oldest blocks beyond the limits (or `memory` itself, if larger).
  void Give(void* memory, size_t bytes) {
    std::vector<void*> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (bytes > kPoolBytes) {
        dropped.push_back(memory);
      } else {
        blocks_.emplace_back(memory, bytes);
        held_ += bytes;
        while (blocks_.size() > kPoolBlocks || held_ > kPoolBytes) {
          dropped.push_back(blocks_.front().first);
          held_ -= blocks_.front().second;
          blocks_.erase(blocks_.begin());
        }
      }
    }
    for (void* block : dropped) free(block);
  }

 private:
  static constexpr size_t kPoolBlocks = 8;
  static constexpr size_t kPoolBytes = size_t{256} << 20;
  std::mutex mutex_;
  std::vector<std::pair<void*, size_t>> blocks_;  // oldest first
  size_t held_ = 0;
};

OutputPool& Pool() {
  static OutputPool* pool = new OutputPool;  // never destroyed: finalizers may run during the process's exit
  return *pool;
}

void FreeOutput(napi_env env, void* data, void* hint) {
  const size_t rounded = reinterpret_cast<uintptr_t>(hint);
  Pool().Give(data, rounded);
  int64_t ignored;
  napi_adjust_external_memory(env, -static_cast<int64_t>(rounded), &ignored);
}

// A large output in memory of our own. A new JS ArrayBuffer is fresh, untouched memory, so the kernel's first
// write to each 4 KiB page faults; on the virtual machines we run on a fault costs ~11 us, so a 100 MB output
// spent 280 ms in faults, twice the scan itself. Memory aligned to 2 MiB and advised for transparent huge
// pages (THP "madvise" mode, the common default) takes the same first touch in ~6 ms, and memory from the
// OutputPool none. Returns an empty value where external buffers are not allowed (V8 sandbox builds such as
// Electron); the caller then falls back to a plain Float32Array.
Napi::Value NewOwnedArray(const Napi::Env& env, size_t bytes, float** data) {
  const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* memory = Pool().Take(rounded);
  if (memory == nullptr) {
    memory = aligned_alloc(kHugePage, rounded);
    if (memory == nullptr) throw Napi::RangeError::New(env, "cannot allocate " + std::to_string(bytes) + " bytes for an output");
#ifdef __linux__
    madvise(memory, rounded, MADV_HUGEPAGE);
#endif
  }
  napi_value buffer;
  void* hint = reinterpret_cast<void*>(static_cast<uintptr_t>(rounded));
  if (napi_create_external_arraybuffer(env, memory, bytes, FreeOutput, hint, &buffer) != napi_ok) {
    Pool().Give(memory, rounded);
    const napi_extended_error_info* info;
    napi_get_last_error_info(env, &info);  // clears the pending error state
    return Napi::Value();
  }
  int64_t ignored;
  napi_adjust_external_memory(env, static_cast<int64_t>(rounded), &ignored);  // so GC sees the memory
  *data = static_cast<float*>(memory);
  return Napi::Value(env, buffer);
}

}  // namespace

bool PoisonOutputs() {
  static const bool poison = [] {
    const char* value = getenv("LONGSEQ_POISON_OUTPUTS");
    return value != nullptr && *value != '\0';
  }();
  return poison;
}

float* NewOutput(const Napi::Env& env, const char* name, int64_t elements, OpWorker* worker) {
  const size_t bytes = static_cast<size_t>(elements) * sizeof(float);
  float* data = nullptr;
  Napi::Value buffer = bytes >= kOwnMemoryBytes ? NewOwnedArray(env, bytes, &data) : Napi::Value();
  Napi::Float32Array array;
  if (buffer.IsEmpty()) {
    array = Napi::Float32Array::New(env, static_cast<size_t>(elements));
    data = array.Data();
  } else {
    array = Napi::Float32Array::New(env, static_cast<size_t>(elements), buffer.As<Napi::ArrayBuffer>(), 0);
  }
  if (PoisonOutputs()) std::fill(data, data + elements, std::numeric_limits<float>::quiet_NaN());
  worker->AddOutput(name, array);
  return data;
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
