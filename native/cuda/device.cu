// The device and its memory behind the C API: ls_cuda_device, ls_cuda_malloc/free/copy/synchronize.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>

#include <cudaTypedefs.h>

#include "cuda/common.cuh"

namespace ls {
namespace cuda {

ls_status Fail(cudaError_t error, const char* what) {
  // Non-sticky errors are cleared by reading them; sticky ones (a kernel fault) stay and fail every later call.
  cudaGetLastError();
  ls_status status = LS_DEVICE_ERROR;
  if (error == cudaErrorMemoryAllocation) status = LS_OUT_OF_MEMORY;
  if (error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver || error == cudaErrorInitializationError) {
    status = LS_UNAVAILABLE;
  }
  return ls::Fail(status, "%s: CUDA error %s (%s)", what, cudaGetErrorName(error), cudaGetErrorString(error));
}

ls_status AllocateAsync(void** pointer, int64_t bytes, cudaStream_t stream, const char* what) {
  int device = 0;
  cudaMemPool_t pool;
  if (cudaGetDevice(&device) == cudaSuccess && cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess) {
    uint64_t keep = uint64_t{1} << 30;
    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
  }
  LS_CUDA_TRY(cudaMallocAsync(pointer, static_cast<size_t>(bytes > 0 ? bytes : 1), stream), what);
  return LS_OK;
}

namespace {
// An attribute of the current device (0 where it cannot be read).
int Attribute(cudaDeviceAttr attribute) {
  int device = 0, n = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&n, attribute, device);
  return n;
}
}  // namespace

int Multiprocessors() {
  static const int count = std::max(Attribute(cudaDevAttrMultiProcessorCount), 1);
  return count;
}

namespace {
// LONGSEQ_CUDA_SHARED_LIMIT (bytes), where set, lowers the shared memory the ops may plan with, so that the paths
// taken on GPUs with less (an A100's 163 KB a block, 99 KB on sm_86 / sm_89) can be tested on a larger one.
int SharedLimit(int bytes) {
  const char* limit = getenv("LONGSEQ_CUDA_SHARED_LIMIT");
  return limit && atoi(limit) > 0 ? std::min(bytes, atoi(limit)) : bytes;
}
}  // namespace

int SharedMemoryOptIn() {
  static const int bytes = SharedLimit(std::max(Attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin), 48 << 10));
  return bytes;
}

int SharedMemoryPerMultiprocessor() {
  static const int bytes = SharedLimit(std::max(Attribute(cudaDevAttrMaxSharedMemoryPerMultiprocessor), 48 << 10));
  return bytes;
}

int ComputeCapabilityMajor() {
  static const int major = Attribute(cudaDevAttrComputeCapabilityMajor);
  return major;
}

bool HasWgmma() {
#if defined(LONGSEQ_CUDA_SM90A)
  // A device planned as one with less shared memory (LONGSEQ_CUDA_SHARED_LIMIT: an A100, sm_86 / sm_89) is planned
  // without wgmma too, as those GPUs have none.
  static const bool has = ComputeCapabilityMajor() == 9 && Attribute(cudaDevAttrComputeCapabilityMinor) == 0 &&
                          SharedMemoryOptIn() == std::max(Attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin), 48 << 10);
  return has;
#else
  return false;
#endif
}

bool EncodeTokenTiles(CUtensorMap* map, const void* base, int64_t batch, int64_t seqlen, int64_t heads, int64_t dim,
                      int box_dim, int box_tokens, int swizzle_bytes, int element_bytes) {
  static const PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* function = nullptr;
    cudaDriverEntryPointQueryResult found;
    const bool ok = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &function, 12000, cudaEnableDefault, &found) ==
                        cudaSuccess && found == cudaDriverEntryPointSuccess;
    if (!ok) cudaGetLastError();  // the failed query's error, not one for the caller to see
    return ok ? reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(function) : nullptr;
  }();
  if (!encode || ComputeCapabilityMajor() < 9 || dim * element_bytes % 16 != 0 || reinterpret_cast<uintptr_t>(base) % 16 != 0) {
    return false;
  }
  const cuuint64_t size[4] = {static_cast<cuuint64_t>(dim), static_cast<cuuint64_t>(heads), static_cast<cuuint64_t>(seqlen),
                              static_cast<cuuint64_t>(batch)};
  const cuuint64_t bytes = static_cast<cuuint64_t>(element_bytes);
  const cuuint64_t stride[3] = {bytes * size[0], bytes * size[0] * size[1], bytes * size[0] * size[1] * size[2]};
  const cuuint32_t box[4] = {static_cast<cuuint32_t>(box_dim), 1, static_cast<cuuint32_t>(box_tokens), 1}, step[4] = {1, 1, 1, 1};
  return encode(map, element_bytes == 4 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT32 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4, const_cast<void*>(base), size, stride, box, step,
                CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle_bytes == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : swizzle_bytes == 64 ? CU_TENSOR_MAP_SWIZZLE_64B : CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

int64_t WorkspaceLimit(int64_t bytes) {
  const char* limit = getenv("LONGSEQ_CUDA_WORKSPACE_LIMIT");
  return limit && atoll(limit) > 0 ? std::min<int64_t>(bytes, atoll(limit)) : bytes;
}

}  // namespace cuda
}  // namespace ls

extern "C" ls_status ls_cuda_device(ls_cuda_device_info* info) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("info", info)) return s;
  memset(info, 0, sizeof(*info));
  cudaRuntimeGetVersion(&info->runtime_version);
  cudaDriverGetVersion(&info->driver_version);
  if (info->driver_version == 0) {
    return ls::Fail(LS_UNAVAILABLE, "no NVIDIA driver was found (libcuda is not installed); the CUDA backend needs an "
                                    "NVIDIA GPU of compute capability 8.0 or newer and its driver");
  }
  int count = 0;
  LS_CUDA_TRY(cudaGetDeviceCount(&count), "looking for a CUDA device");
  if (count == 0) return ls::Fail(LS_UNAVAILABLE, "no CUDA device is present");
  int device = 0;
  LS_CUDA_TRY(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop;
  LS_CUDA_TRY(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  snprintf(info->name, sizeof(info->name), "%s", prop.name);
  info->compute_major = prop.major;
  info->compute_minor = prop.minor;
  info->multiprocessors = prop.multiProcessorCount;
  info->total_memory = static_cast<int64_t>(prop.totalGlobalMem);
  if (prop.major < 8) {
    return ls::Fail(LS_UNAVAILABLE, "%s has compute capability %d.%d; longseq's CUDA kernels need 8.0 or newer",
                    prop.name, prop.major, prop.minor);
  }
  return LS_OK;
}

extern "C" ls_status ls_cuda_malloc(void** pointer, int64_t bytes, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("pointer", pointer)) return s;
  if (bytes < 0) return ls::Fail(LS_INVALID_ARGUMENT, "bytes must be >= 0, got %lld", static_cast<long long>(bytes));
  *pointer = nullptr;
  return ls::cuda::AllocateAsync(pointer, bytes, ls::cuda::Stream(stream), "allocating device memory");
}

extern "C" ls_status ls_cuda_free(void* pointer, void* stream) {
  ls::ClearError();
  if (pointer == nullptr) return LS_OK;
  LS_CUDA_TRY(cudaFreeAsync(pointer, ls::cuda::Stream(stream)), "freeing device memory");
  return LS_OK;
}

extern "C" ls_status ls_cuda_copy(void* destination, const void* source, int64_t bytes, void* stream) {
  ls::ClearError();
  if (bytes == 0) return LS_OK;
  if (ls_status s = ls::CheckPointer("destination", destination)) return s;
  if (ls_status s = ls::CheckPointer("source", source)) return s;
  if (bytes < 0) return ls::Fail(LS_INVALID_ARGUMENT, "bytes must be >= 0, got %lld", static_cast<long long>(bytes));
  LS_CUDA_TRY(cudaMemcpyAsync(destination, source, static_cast<size_t>(bytes), cudaMemcpyDefault,
                              ls::cuda::Stream(stream)),
              "copying memory");
  return LS_OK;
}

extern "C" ls_status ls_cuda_synchronize(void* stream) {
  ls::ClearError();
  LS_CUDA_TRY(cudaStreamSynchronize(ls::cuda::Stream(stream)), "running the queued device work");
  return LS_OK;
}
