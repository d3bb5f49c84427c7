// Argument marshalling shared by the addon's ops: typed reads of the plain object each op receives from the
// TS native backend, and the AsyncWorker that runs a C API call off the event loop and settles a Promise.
//
// ts/validate.ts has already checked everything with user-facing messages; these checks are the native
// boundary's own guard, so a malformed call from anywhere throws a JS TypeError/RangeError and never
// reaches a kernel with a short buffer.
#ifndef LONGSEQ_ADDON_MARSHAL_H_
#define LONGSEQ_ADDON_MARSHAL_H_

#include <napi.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "longseq/longseq.h"

namespace ls_addon {

// Runs one C API call on the libuv thread pool and settles its Promise with an object of the outputs made
// by NewOutput. Every JS value the call reads or writes is held by a persistent reference until it is done.
class OpWorker : public Napi::AsyncWorker {
 public:
  explicit OpWorker(Napi::Env env, const char* op);

  Napi::Promise Queue();
  // Keeps `value` (a TypedArray the kernel uses) alive while the work runs.
  void Keep(Napi::Value value);
  // Adds `array` to the outputs the promise resolves to, under `name`.
  void AddOutput(const char* name, Napi::Value array);

 protected:
  virtual ls_status Run() = 0;
  // Runs on the JS thread once the work is over, before the promise settles, success or not.
  virtual void Done() {}
  // The failed call's message, read on the thread that ran it (ls_last_error() is per thread).
  virtual std::string ErrorMessage() { return ls_last_error(); }

 private:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::Value>> kept_;
  std::vector<std::pair<const char*, Napi::Reference<Napi::Value>>> outputs_;
  const char* op_;
  ls_status status_ = LS_OK;
};

// A dimension: an integer in [1, 2^53).
int64_t GetDim(const Napi::Object& args, const char* name);
bool GetBool(const Napi::Object& args, const char* name);
// A finite number, as float.
float GetFloat(const Napi::Object& args, const char* name);
// A float32 upper bound: a finite number or +Infinity.
float GetBound(const Napi::Object& args, const char* name);
// An integer in [0, max].
int32_t GetEnum(const Napi::Object& args, const char* name, int32_t max);
// Threads for the CPU kernels: 0 (all) or more.
int32_t GetThreads(const Napi::Object& args);

// The Float32Array `name` of exactly `elements` elements, kept alive by `worker`; nullptr when the argument
// is undefined and optional. GetInOut is for state the kernel updates in place.
const float* GetInput(const Napi::Object& args, const char* name, int64_t elements, bool required,
                      OpWorker* worker);
float* GetInOut(const Napi::Object& args, const char* name, int64_t elements, OpWorker* worker);

// The optional `cancel` Int32Array(1) (kept alive by `worker`): JS sets element 0 to stop the call early.
const ls_cancel_flag* GetCancel(const Napi::Object& args, OpWorker* worker);

// Whether new outputs start as NaN. Every element must be written by the kernel (DESIGN.md §4): tests set
// LONGSEQ_POISON_OUTPUTS, so that one left unwritten reads NaN, not the zeros of fresh memory or what a reused
// block held before. Read once.
bool PoisonOutputs();

// A new Float32Array of `elements` for the kernel to fill, resolved by the op's promise as `name`; NaN-filled
// when PoisonOutputs().
float* NewOutput(const Napi::Env& env, const char* name, int64_t elements, OpWorker* worker);

// a * b, or a RangeError naming `name` when the product passes 2^53.
int64_t Elements(const Napi::Env& env, const char* name, std::initializer_list<int64_t> dims);

}  // namespace ls_addon

#endif  // LONGSEQ_ADDON_MARSHAL_H_
