// Shared by the CUDA sources: streams, CUDA errors as ls_status, element loads and stores for each storage
// type, and the fast exp2 the scans are built on.
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
// A tensor map (sm_90's bulk tensor copies) of a bf16 tensor [batch][seqlen][heads][dim] whose box is one head's
// rows of `box_tokens` tokens, `box_dim` elements each (zeros past dim and past seqlen): coordinates (0, head, token,
// batch). False where the map cannot be made: a device before sm_90, dim not a multiple of 8 or `base` not 16-byte
// aligned (the map's strides and address), or no driver entry point for it.
// swizzle_bytes 128: the box lands in rows of 128 bytes (box_dim 64) whose 16-byte chunk c is stored at c ^ (row % 8),
// for 1024-byte aligned destinations (SwizzledOffset's layout), so that reads down a column hit distinct banks; 64: rows
// of 64 bytes (box_dim 32), chunk c at c ^ (row / 2 % 4), for 512-byte aligned destinations; 0: rows as they are.
bool EncodeTokenTiles(CUtensorMap* map, const void* base, int64_t batch, int64_t seqlen, int64_t heads, int64_t dim,
                      int box_dim, int box_tokens, int swizzle_bytes = 0);
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

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ void StoreAs(float* p, float v) { *p = v; }
__device__ __forceinline__ void StoreAs(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

// Four consecutive elements as floats: one 16-byte (float) or 8-byte (bf16) access.
template <typename T>
struct Quad;
template <>
struct Quad<float> {
  using Raw = float4;
  static __device__ __forceinline__ void Unpack(const Raw& r, float (&v)[4]) {
    v[0] = r.x, v[1] = r.y, v[2] = r.z, v[3] = r.w;
  }
  static __device__ __forceinline__ Raw Pack(const float (&v)[4]) { return make_float4(v[0], v[1], v[2], v[3]); }
};
template <>
struct Quad<__nv_bfloat16> {
  using Raw = uint2;
  static __device__ __forceinline__ void Unpack(const Raw& r, float (&v)[4]) {
    v[0] = __uint_as_float(r.x << 16), v[1] = __uint_as_float(r.x & 0xffff0000u);
    v[2] = __uint_as_float(r.y << 16), v[3] = __uint_as_float(r.y & 0xffff0000u);
  }
  static __device__ __forceinline__ Raw Pack(const float (&v)[4]) {
    const __nv_bfloat162 lo = __floats2bfloat162_rn(v[0], v[1]), hi = __floats2bfloat162_rn(v[2], v[3]);
    return make_uint2(*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi));
  }
};


// 2^x on the special-function unit (relative error ~2^-22; flushes results below 2^-126 to zero, which for a
// decay factor is the same as the exact tiny value once multiplied into a state).
__device__ __forceinline__ float Exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

constexpr float kLog2e = 1.4426950408889634f;

// softplus(x) = log1p(exp(x)), and x itself above 20 as mamba_ssm. Computed as max(x, 0) + log1p(v) with
// v = exp(-|x|) in (0, 1] and log1p(v) = v·q(v), q a degree-8 fit of log1p(v)/v on [0, 1] (Chebyshev nodes,
// float64; relative error under 2e-7 on (0, 1] in float32). With exp2's argument rounding the result is within
// 6e-7 of softplus for x > -10, and 2e-6 below, where softplus is under 5e-5 (checked against float64 on 2M
// points). 14 instructions where log1pf(expf(x)) takes about 40: per step, that was a seventh of the scan.
__device__ __forceinline__ float Softplus(float x) {
  const float v = Exp2(-fabsf(x) * kLog2e);
  float q = 0.005253457929939032f;
  q = fmaf(q, v, -0.02958850748836994f);
  q = fmaf(q, v, 0.07836166769266129f);
  q = fmaf(q, v, -0.13674770295619965f);
  q = fmaf(q, v, 0.19111430644989014f);
  q = fmaf(q, v, -0.24844369292259216f);
  q = fmaf(q, v, 0.33319270610809326f);
  q = fmaf(q, v, -0.49999502301216125f);
  q = fmaf(q, v, 1.f);
  const float y = fmaxf(x, 0.f) + v * q;
  return x <= 20.f ? y : x;  // NaN stays NaN through y
}

// z * sigmoid(z) from the special-function unit's 2^x and reciprocal (about 2 ulp), 5 instructions where
// __fdividef(z, 1 + __expf(-z)) took 11 (range checks): 0 once exp(-z) overflows, as the exact value.
__device__ __forceinline__ float Silu(float z) {
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(1.f + Exp2(-z * kLog2e)));
  return z * r;
}

// Groups of asynchronous copies (cp.async) into shared memory: the copies issued since the last commit form a group.
__device__ __forceinline__ void CommitCopies() { asm volatile("cp.async.commit_group;" ::: "memory"); }
// Waits for this thread's copies but the most recent `kPending` groups.
template <int kPending>
__device__ __forceinline__ void WaitCopies() {
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
}

}  // namespace cuda
}  // namespace ls

#endif  // LONGSEQ_CUDA_COMMON_CUH_
