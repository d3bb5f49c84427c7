// CUDA in the addon: device buffers as JS handles, and the worker that runs a CUDA op with host or device
// operands. Device memory belongs to a DeviceBuffer; JS holds it through an External whose finalizer frees it
// if nothing did before (ts/device.ts frees it on dispose() or through a FinalizationRegistry).
#ifndef LONGSEQ_ADDON_CUDA_H_
#define LONGSEQ_ADDON_CUDA_H_

#include <napi.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "addon/marshal.h"
#include "longseq/longseq.h"

namespace ls_addon {

struct DeviceBuffer {
  void* pointer = nullptr;
  int64_t bytes = 0;
  int users = 0;          // running ops that read or write it
  bool released = false;  // freed by JS; the memory goes once the last user is done
};

// An op whose tensors may be host TypedArrays (copied in, and out for outputs) or device handles.
class CudaOpWorker : public OpWorker {
 public:
  CudaOpWorker(Napi::Env env, const char* op) : OpWorker(env, op) {}
  // A worker dropped before it was queued (a later argument was bad) still lets go of the handles it took.
  ~CudaOpWorker() override { Done(); }

  // Binds the operand `name` to `field` in the op's params: a TypedArray of `elements` in `storage`
  // (Float32Array, or Uint16Array for bfloat16; copied to the device in Run()) or a device handle of that size.
  // Leaves `field` null when the argument is undefined and optional.
  void Input(const Napi::Object& args, const char* name, int64_t elements, int32_t storage, bool required,
             const float** field);
  // A state the op updates in place: a Float32Array (copied in and back) or a device handle.
  void InOut(const Napi::Object& args, const char* name, int64_t elements, float** field);
  // A new output, on the device (resolved as a handle) or copied back into a new TypedArray.
  void Output(const char* name, int64_t elements, int32_t storage, bool on_device, float** field);

 protected:
  // Run(): Stage() the operands, enqueue the op, then Finish().
  ls_status Stage();
  ls_status Finish(ls_status launched);

 private:
  void Done() override;
  std::string ErrorMessage() override { return message_.empty() ? OpWorker::ErrorMessage() : message_; }
  std::string message_;

  struct Slot {
    float** field;         // the params' pointer for this operand
    const void* host_in;   // host data to copy in first, or nullptr
    void* host_out;        // host data to copy back to at the end, or nullptr
    int64_t bytes;
    DeviceBuffer* device;  // a user's buffer, or nullptr: then `temporary` holds ours
    void* temporary;
  };
  std::vector<Slot> slots_;
  std::vector<DeviceBuffer*> users_;  // the users' buffers this op holds
};

// Exported functions: cudaDevice(), cudaUpload(typedArray), cudaDownload(handle, dtype, elements),
// cudaFree(handle), cudaSynchronize().
void InitCuda(Napi::Env env, Napi::Object exports);

}  // namespace ls_addon

#endif  // LONGSEQ_ADDON_CUDA_H_
