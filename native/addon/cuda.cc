// CUDA in the addon (see cuda.h): device handles, copies, and CudaOpWorker's staging of operands.
//
// Every CUDA call here runs on a libuv worker thread, never on the event loop, except freeing (stream-ordered,
// so it returns at once). Each op runs on its thread's own stream and waits for it before it settles, so when
// a promise resolves its device work is complete and its handles may be used from any other call.
#include "addon/cuda.h"

#include <string.h>

#include <string>
#include <vector>

namespace ls_addon {
namespace {

// Marks the addon's device handles, so no other External is ever taken for one.
constexpr napi_type_tag kHandleTag = {0x6c6f6e6773657121ULL, 0x6375646142756621ULL};

void ReleasePointer(DeviceBuffer* buffer) {
  if (buffer->pointer != nullptr) ls_cuda_free(buffer->pointer, nullptr);
  buffer->pointer = nullptr;
}

void FinalizeBuffer(Napi::Env, DeviceBuffer* buffer) {
  // Only unreachable handles get here: no op holds them (ops keep their handles alive while they run).
  ReleasePointer(buffer);
  delete buffer;
}

Napi::External<DeviceBuffer> NewHandle(Napi::Env env, DeviceBuffer* buffer) {
  Napi::External<DeviceBuffer> handle = Napi::External<DeviceBuffer>::New(env, buffer, FinalizeBuffer);
  NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, handle, &kHandleTag), handle);
  return handle;
}

// The DeviceBuffer of a handle made by this addon, or nullptr when `value` is not one.
DeviceBuffer* AsBuffer(const Napi::Value& value) {
  if (!value.IsExternal()) return nullptr;
  bool tagged = false;
  if (napi_check_object_type_tag(value.Env(), value, &kHandleTag, &tagged) != napi_ok || !tagged) return nullptr;
  return value.As<Napi::External<DeviceBuffer>>().Data();
}

DeviceBuffer* GetBuffer(const Napi::Env& env, const Napi::Value& value, const char* name) {
  DeviceBuffer* buffer = AsBuffer(value);
  if (buffer == nullptr) throw Napi::TypeError::New(env, std::string(name) + " must be a CUDA device handle");
  if (buffer->released) throw Napi::TypeError::New(env, std::string(name) + " was disposed");
  return buffer;
}

int64_t ElementBytes(int32_t storage) { return storage == LS_BFLOAT16 ? 2 : 4; }

// Host data of a TypedArray of the storage type.
bool IsStorageArray(const Napi::Value& value, int32_t storage) {
  if (!value.IsTypedArray()) return false;
  const napi_typedarray_type type = value.As<Napi::TypedArray>().TypedArrayType();
  return storage == LS_BFLOAT16 ? type == napi_uint16_array : type == napi_float32_array;
}

// Copies host data to a new device buffer: cudaUpload(typedArray) resolves to a handle.
class UploadWorker : public OpWorker {
 public:
  UploadWorker(Napi::Env env, Napi::TypedArray array) : OpWorker(env, "toDevice"), buffer_(new DeviceBuffer) {
    Keep(array);
    host_ = static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
    buffer_->bytes = static_cast<int64_t>(array.ByteLength());
    AddOutput("handle", NewHandle(env, buffer_));
  }

 private:
  ls_status Run() override {
    if (ls_status s = ls_cuda_malloc(&buffer_->pointer, buffer_->bytes, nullptr)) return s;
    if (ls_status s = ls_cuda_copy(buffer_->pointer, host_, buffer_->bytes, nullptr)) return s;
    return ls_cuda_synchronize(nullptr);
  }
  const uint8_t* host_;
  DeviceBuffer* buffer_;  // owned by the handle
};

// Copies a device buffer into a new TypedArray: cudaDownload(handle, bfloat16, elements).
class DownloadWorker : public OpWorker {
 public:
  DownloadWorker(Napi::Env env, Napi::Value handle, DeviceBuffer* buffer, bool bf16, int64_t elements)
      : OpWorker(env, "toHost"), buffer_(buffer) {
    Keep(handle);
    ++buffer_->users;
    if (bf16) {
      Napi::Uint16Array array = Napi::Uint16Array::New(env, static_cast<size_t>(elements));
      host_ = array.Data();
      AddOutput("data", array);
    } else {
      Napi::Float32Array array = Napi::Float32Array::New(env, static_cast<size_t>(elements));
      host_ = array.Data();
      AddOutput("data", array);
    }
    bytes_ = elements * (bf16 ? 2 : 4);
  }

 private:
  ls_status Run() override {
    if (ls_status s = ls_cuda_copy(host_, buffer_->pointer, bytes_, nullptr)) return s;
    return ls_cuda_synchronize(nullptr);
  }
  void Done() override {
    if (--buffer_->users == 0 && buffer_->released) ReleasePointer(buffer_);
  }
  void* host_;
  int64_t bytes_;
  DeviceBuffer* buffer_;
};

Napi::Value CudaDevice(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  ls_cuda_device_info device;
  if (ls_cuda_device(&device) != LS_OK) throw Napi::Error::New(env, ls_last_error());
  Napi::Object result = Napi::Object::New(env);
  result.Set("name", Napi::String::New(env, device.name));
  result.Set("computeCapability", Napi::String::New(env, std::to_string(device.compute_major) + "." +
                                                             std::to_string(device.compute_minor)));
  result.Set("multiprocessors", Napi::Number::New(env, device.multiprocessors));
  result.Set("totalMemory", Napi::Number::New(env, static_cast<double>(device.total_memory)));
  result.Set("runtimeVersion", Napi::Number::New(env, device.runtime_version));
  result.Set("driverVersion", Napi::Number::New(env, device.driver_version));
  return result;
}

Napi::Value CudaUpload(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 1 || !(IsStorageArray(info[0], LS_FLOAT32) || IsStorageArray(info[0], LS_BFLOAT16))) {
    throw Napi::TypeError::New(env, "cudaUpload(data): data must be a Float32Array or a Uint16Array");
  }
  return (new UploadWorker(env, info[0].As<Napi::TypedArray>()))->Queue();
}

Napi::Value CudaDownload(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[1].IsBoolean() || !info[2].IsNumber()) {
    throw Napi::TypeError::New(env, "cudaDownload(handle, bfloat16, elements): wrong arguments");
  }
  DeviceBuffer* buffer = GetBuffer(env, info[0], "handle");
  const bool bf16 = info[1].As<Napi::Boolean>().Value();
  const double elements = info[2].As<Napi::Number>().DoubleValue();
  if (!(elements >= 0) || elements * (bf16 ? 2 : 4) != static_cast<double>(buffer->bytes)) {
    throw Napi::RangeError::New(env, "cudaDownload: the handle holds " + std::to_string(buffer->bytes) + " bytes");
  }
  return (new DownloadWorker(env, info[0], buffer, bf16, static_cast<int64_t>(elements)))->Queue();
}

// Frees the handle's memory now, or once the ops using it are done. Freeing twice does nothing.
Napi::Value CudaFree(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  DeviceBuffer* buffer = info.Length() == 1 ? AsBuffer(info[0]) : nullptr;
  if (buffer == nullptr) throw Napi::TypeError::New(env, "cudaFree(handle): handle must be a CUDA device handle");
  if (!buffer->released) {
    buffer->released = true;
    if (buffer->users == 0) ReleasePointer(buffer);
  }
  return env.Undefined();
}

}  // namespace

void CudaOpWorker::Input(const Napi::Object& args, const char* name, int64_t elements, int32_t storage,
                         bool required, const float** field) {
  const Napi::Env env = args.Env();
  const Napi::Value value = args.Get(name);
  *field = nullptr;
  if (value.IsUndefined() && !required) return;
  const int64_t bytes = elements * ElementBytes(storage);
  if (IsStorageArray(value, storage)) {
    Napi::TypedArray array = value.As<Napi::TypedArray>();
    if (static_cast<int64_t>(array.ByteLength()) != bytes) {
      throw Napi::RangeError::New(env, std::string(name) + " must hold " + std::to_string(elements) + " elements");
    }
    Keep(value);
    slots_.push_back({const_cast<float**>(field), static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset(),
                      nullptr, bytes, nullptr, nullptr});
    return;
  }
  DeviceBuffer* buffer = AsBuffer(value);
  if (buffer == nullptr) {
    throw Napi::TypeError::New(env, std::string(name) + " must be a " +
                                        (storage == LS_BFLOAT16 ? "Uint16Array (bfloat16)" : "Float32Array") +
                                        " or a CUDA device handle");
  }
  if (buffer->released) throw Napi::TypeError::New(env, std::string(name) + " was disposed");
  if (buffer->bytes != bytes) {
    throw Napi::RangeError::New(env, std::string(name) + " must hold " + std::to_string(bytes) + " bytes on the device, got " +
                                         std::to_string(buffer->bytes));
  }
  Keep(value);
  ++buffer->users;
  users_.push_back(buffer);
  slots_.push_back({const_cast<float**>(field), nullptr, nullptr, bytes, buffer, nullptr});
}

void CudaOpWorker::InOut(const Napi::Object& args, const char* name, int64_t elements, float** field) {
  Input(args, name, elements, LS_FLOAT32, true, const_cast<const float**>(field));
  Slot& slot = slots_.back();
  if (slot.host_in != nullptr) slot.host_out = const_cast<void*>(slot.host_in);
}

void CudaOpWorker::Output(const char* name, int64_t elements, int32_t storage, bool on_device, float** field) {
  const Napi::Env env = Env();
  const int64_t bytes = elements * ElementBytes(storage);
  *field = nullptr;
  if (on_device) {
    DeviceBuffer* buffer = new DeviceBuffer;
    buffer->bytes = bytes;
    AddOutput(name, NewHandle(env, buffer));  // the handle owns it
    ++buffer->users;
    users_.push_back(buffer);
    slots_.push_back({field, nullptr, nullptr, bytes, buffer, nullptr});
    return;
  }
  void* host;
  if (storage == LS_BFLOAT16) {
    Napi::Uint16Array array = Napi::Uint16Array::New(env, static_cast<size_t>(elements));
    host = array.Data();
    AddOutput(name, array);
  } else {
    Napi::Float32Array array = Napi::Float32Array::New(env, static_cast<size_t>(elements));
    host = array.Data();
    AddOutput(name, array);
  }
  // Poisoned (PoisonOutputs), the host array goes in as the device buffer's first contents: all bytes 0xFF,
  // a NaN in float32 and in bfloat16.
  const bool poison = PoisonOutputs();
  if (poison) memset(host, 0xFF, static_cast<size_t>(bytes));
  slots_.push_back({field, poison ? host : nullptr, host, bytes, nullptr, nullptr});
}

ls_status CudaOpWorker::Stage() {
  for (Slot& slot : slots_) {
    if (slot.device != nullptr) {
      if (slot.device->pointer == nullptr) {  // a new device output
        if (ls_status s = ls_cuda_malloc(&slot.device->pointer, slot.bytes, nullptr)) return s;
        if (PoisonOutputs()) {
          // The copy from pageable memory has read `nan` when it returns, so it may go out of scope.
          const std::vector<uint8_t> nan(static_cast<size_t>(slot.bytes), 0xFF);
          if (ls_status s = ls_cuda_copy(slot.device->pointer, nan.data(), slot.bytes, nullptr)) return s;
        }
      }
      *slot.field = static_cast<float*>(slot.device->pointer);
      continue;
    }
    if (ls_status s = ls_cuda_malloc(&slot.temporary, slot.bytes, nullptr)) return s;
    *slot.field = static_cast<float*>(slot.temporary);
    if (slot.host_in != nullptr) {
      if (ls_status s = ls_cuda_copy(slot.temporary, slot.host_in, slot.bytes, nullptr)) return s;
    }
  }
  return LS_OK;
}

ls_status CudaOpWorker::Finish(ls_status launched) {
  ls_status status = launched;
  if (status != LS_OK) message_ = ls_last_error();  // every ls_cuda_* call below clears it
  if (status == LS_OK) {
    for (Slot& slot : slots_) {
      if (slot.host_out == nullptr) continue;
      if ((status = ls_cuda_copy(slot.host_out, slot.temporary, slot.bytes, nullptr)) != LS_OK) {
        message_ = ls_last_error();
        break;
      }
    }
  }
  // Wait even after a failure, so no queued work still uses what is freed below.
  const ls_status synced = ls_cuda_synchronize(nullptr);
  if (status == LS_OK && synced != LS_OK) status = synced;
  if (status != LS_OK && message_.empty()) message_ = ls_last_error();
  for (Slot& slot : slots_) {
    if (slot.temporary != nullptr) ls_cuda_free(slot.temporary, nullptr);
    slot.temporary = nullptr;
  }
  return status;
}

void CudaOpWorker::Done() {
  for (DeviceBuffer* buffer : users_) {
    if (--buffer->users == 0 && buffer->released) ReleasePointer(buffer);
  }
  users_.clear();
}

void InitCuda(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaDevice", Napi::Function::New(env, CudaDevice, "cudaDevice"));
  exports.Set("cudaUpload", Napi::Function::New(env, CudaUpload, "cudaUpload"));
  exports.Set("cudaDownload", Napi::Function::New(env, CudaDownload, "cudaDownload"));
  exports.Set("cudaFree", Napi::Function::New(env, CudaFree, "cudaFree"));
}

}  // namespace ls_addon
