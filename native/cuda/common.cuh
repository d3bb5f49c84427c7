// Shared by the CUDA sources' host sides: streams, CUDA errors as ls_status, the device's limits, launch helpers;
// and, from cuda/device.cuh, what their kernels share.
#ifndef LONGSEQ_CUDA_COMMON_CUH_
#define LONGSEQ_CUDA_COMMON_CUH_

#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include <algorithm>
#include <array>
#include <utility>

#include "cpu/status.h"
#include "cuda/device.cuh"
#include "longseq/longseq.h"

namespace ls {
namespace cuda {

// NULL in the C API means the calling thread's own stream, so concurrent callers never serialize.
inline cudaStream_t Stream(void* stream) {
  return stream == nullptr ? cudaStreamPerThread : static_cast<cudaStream_t>(stream);
}

// Turns a CUDA error into a status and a message naming `what`; clears the error where CUDA allows it, so one
// failed call does not fail the next.
ls_status Fail(cudaError_t error, const char* what);

// Stream-ordered allocation from the device's default pool, which keeps up to 1 GiB of freed memory for the
// next call instead of returning it to the driver at every synchronization (re-mapping it cost about 60 us
// per call on an H200).
ls_status AllocateAsync(void** pointer, int64_t bytes, cudaStream_t stream, const char* what);

// The current device's SM count (read once), for choosing launch shapes.
int Multiprocessors();
// The most dynamic shared memory a block may opt in to on the current device (read once): 227 KB on sm_90, 163 KB on
// sm_80, 99 KB on sm_86 / sm_89; and the most an SM holds for its blocks together.
int SharedMemoryOptIn();
int SharedMemoryPerMultiprocessor();
// The current device's compute capability, major part (read once).
int ComputeCapabilityMajor();
// Whether the current device runs this build's sm_90a code (Hopper's warpgroup products, wgmma): a compute capability
// 9.0 device, and the build made that code (CMake defines LONGSEQ_CUDA_SM90A with 90a among the architectures).
bool HasWgmma();
// A tensor map (sm_90's bulk tensor copies) of a bf16 (element_bytes 2) or float32 (4) tensor
// [batch][seqlen][heads][dim] whose box is one head's rows of `box_tokens` tokens, `box_dim` elements each (zeros past
// dim and past seqlen): coordinates (0, head, token, batch). False where the map cannot be made: a device before sm_90,
// rows not a multiple of 16 bytes or `base` not 16-byte aligned (the map's strides and address), or no driver entry
// point for it.
// swizzle_bytes 128: the box lands in rows of 128 bytes (box_dim 64 in bf16, 32 in float32) whose 16-byte chunk c is stored at c ^ (row % 8),
// for 1024-byte aligned destinations (SwizzledOffset's layout), so that reads down a column hit distinct banks; 64: rows
// of 64 bytes (box_dim 32), chunk c at c ^ (row / 2 % 4), for 512-byte aligned destinations; 0: rows as they are.
bool EncodeTokenTiles(CUtensorMap* map, const void* base, int64_t batch, int64_t seqlen, int64_t heads, int64_t dim,
                      int box_dim, int box_tokens, int swizzle_bytes = 0, int element_bytes = 2);
// The workspace a chunked op may hold at once (it runs long inputs in segments that fit): `bytes`, or less where
// LONGSEQ_CUDA_WORKSPACE_LIMIT (bytes) is set, read at each call, so that tests can make small inputs span segments.
int64_t WorkspaceLimit(int64_t bytes);

// A kernel and the most dynamic shared memory a block of it takes.
using KernelShared = std::pair<const void*, size_t>;
// Lets each kernel have its bytes of dynamic shared memory per block (past the default 48 KiB); the first error.
template <size_t N>
cudaError_t AllowSharedMemory(const std::array<KernelShared, N>& kernels) {
  for (const auto& [kernel, bytes] : kernels) {
    if (cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes))) return e;
  }
  return cudaSuccess;
}
// The most any of them takes.
template <size_t N>
size_t MostShared(const std::array<KernelShared, N>& kernels) {
  size_t most = 0;
  for (const auto& kernel : kernels) most = std::max(most, kernel.second);
  return most;
}

// The error of opt_in() (a lambda returning a cudaError_t, such as one that opts kernels in to their shared memory),
// run once per lambda however many calls and threads ask: each lambda is a type of its own, so each has its own static.
template <class OptIn>
cudaError_t Once(OptIn opt_in) {
  static const cudaError_t error = opt_in();
  return error;
}

// A stream-ordered temporary device buffer from AllocateAsync, given back (stream-ordered) when it goes out of scope.
class DeviceScratch {
 public:
  explicit DeviceScratch(cudaStream_t stream) : stream_(stream) {}
  ~DeviceScratch() {
    if (pointer_) cudaFreeAsync(pointer_, stream_);
  }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  ls_status Allocate(int64_t bytes) { return AllocateAsync(&pointer_, bytes, stream_, "allocating device scratch"); }
  template <typename T>
  T* get() const {
    return static_cast<T*>(pointer_);
  }

 private:
  cudaStream_t stream_;
  void* pointer_ = nullptr;
};

#define LS_CUDA_TRY(call, what)                                                 \
  do {                                                                          \
    const cudaError_t ls_cuda_error_ = (call);                                  \
    if (ls_cuda_error_ != cudaSuccess) return ::ls::cuda::Fail(ls_cuda_error_, what); \
  } while (0)

}  // namespace cuda
}  // namespace ls

#endif  // LONGSEQ_CUDA_COMMON_CUH_
