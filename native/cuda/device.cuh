// What the CUDA kernels share: element loads and stores for each storage type, the special-function unit's exp2 and
// reciprocal the scans are built on, and asynchronous copies into shared memory. With LONGSEQ_CUDA_EMULATE defined it
// compiles for the CPU against cuda/emulate.h instead of the CUDA headers (the kernels' tests without a GPU), the
// few instructions written in PTX here replaced by their emulation.
#ifndef LONGSEQ_CUDA_DEVICE_CUH_
#define LONGSEQ_CUDA_DEVICE_CUH_

#include <stdint.h>

#ifdef LONGSEQ_CUDA_EMULATE
#include "cuda/emulate.h"
#else
#include <cuda_bf16.h>
#include <cuda_runtime.h>

// The block's dynamic shared memory as an array of `type` named `name` (one type per name and source file).
#define LS_SHARED(type, name) extern __shared__ type name[]
#endif

// Inline PTX that only orders or hints (fences, commits and waits for work the emulation does at once, prefetches):
// nothing to do under emulation.
#ifdef LONGSEQ_CUDA_EMULATE
#define LS_ORDERING_PTX(...) ((void)0)
#else
#define LS_ORDERING_PTX(...) asm volatile(__VA_ARGS__)
#endif

namespace ls {
namespace cuda {

// Named barriers (bar.sync / bar.arrive; 0 is __syncthreads'), `threads` a multiple of 32: those that sync wait until
// `threads` have synced or arrived, and the writes before an arrival are visible after the sync. `id` is the same in
// every thread of a warp.
__device__ __forceinline__ void NamedSync(int id, int threads) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::NamedBarrier(id, threads).arrive_and_wait();
#else
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
#endif
}
__device__ __forceinline__ void NamedArrive(int id, int threads) {
#ifdef LONGSEQ_CUDA_EMULATE
  (void)emulate::NamedBarrier(id, threads).arrive();
#else
  asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(threads) : "memory");
#endif
}

// p's global-memory address, as a value the compiler cannot see through: offsets added to it afterwards stay
// additions to it (it otherwise folds them into the index p was worked out from and works each address out from
// scratch). For StoreGlobal.
__device__ __forceinline__ uint64_t OpaqueGlobalAddress(const void* p) {
#ifdef LONGSEQ_CUDA_EMULATE
  return reinterpret_cast<uint64_t>(p);
#else
  uint64_t at = __cvta_generic_to_global(p);
  asm("" : "+l"(at));
  return at;
#endif
}
// v to the global-memory address `at` (a plain, weak store). Without a memory clobber the compiler may move other
// memory accesses across it: for outputs the kernel does not read back.
__device__ __forceinline__ void StoreGlobal(uint64_t at, float v) {
#ifdef LONGSEQ_CUDA_EMULATE
  *reinterpret_cast<float*>(at) = v;
#else
  asm volatile("st.global.f32 [%0], %1;" ::"l"(at), "f"(v));
#endif
}

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
// Eight consecutive elements at `at` (16-byte aligned) as floats, and back: two Quads in 16-byte accesses (bf16 one,
// float two).
template <typename T>
__device__ __forceinline__ void LoadEight(const T* at, float (&v)[8]) {
  using Raw = typename Quad<T>::Raw;
  alignas(16) Raw q[2];
  if constexpr (sizeof(Raw) == 16) q[0] = reinterpret_cast<const Raw*>(at)[0], q[1] = reinterpret_cast<const Raw*>(at)[1];
  else *reinterpret_cast<uint4*>(q) = *reinterpret_cast<const uint4*>(at);
  Quad<T>::Unpack(q[0], *reinterpret_cast<float(*)[4]>(v));
  Quad<T>::Unpack(q[1], *reinterpret_cast<float(*)[4]>(v + 4));
}
template <typename T>
__device__ __forceinline__ void StoreEight(T* at, const float (&v)[8]) {
  using Raw = typename Quad<T>::Raw;
  alignas(16) const Raw q[2] = {Quad<T>::Pack(*reinterpret_cast<const float(*)[4]>(v)),
                                Quad<T>::Pack(*reinterpret_cast<const float(*)[4]>(v + 4))};
  if constexpr (sizeof(Raw) == 16) reinterpret_cast<Raw*>(at)[0] = q[0], reinterpret_cast<Raw*>(at)[1] = q[1];
  else *reinterpret_cast<uint4*>(at) = *reinterpret_cast<const uint4*>(q);
}

// 2^x on the special-function unit (relative error ~2^-22; flushes results below 2^-126 to zero, which for a
// decay factor is the same as the exact tiny value once multiplied into a state).
__device__ __forceinline__ float Exp2(float x) {
#ifdef LONGSEQ_CUDA_EMULATE
  return emulate::FlushDenormal(exp2f(x));
#else
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#endif
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

// 1 / x on the special-function unit (about 1 ulp; flushes denormal results to zero).
__device__ __forceinline__ float Reciprocal(float x) {
#ifdef LONGSEQ_CUDA_EMULATE
  return emulate::FlushDenormal(1.f / x);
#else
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
#endif
}

// z * sigmoid(z) from the special-function unit's 2^x and reciprocal (about 2 ulp), 5 instructions where
// __fdividef(z, 1 + __expf(-z)) took 11 (range checks): 0 once exp(-z) overflows, as the exact value.
__device__ __forceinline__ float Silu(float z) { return z * Reciprocal(1.f + Exp2(-z * kLog2e)); }

// Asynchronous copies (cp.async) into shared memory, in groups: the copies a thread issued since its last commit form
// a group, and a wait covers groups.
// Copies kBytes (4, 8 or 16) global -> shared without registers, zero-filling when !valid (then `src` is not read).
template <int kBytes>
__device__ __forceinline__ void CopyToShared(void* dst, const void* src, bool valid) {
  static_assert(kBytes == 4 || kBytes == 8 || kBytes == 16, "cp.async copies 4, 8 or 16 bytes");
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::CopyToShared(dst, src, kBytes, valid);
#else
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  if constexpr (kBytes == 16) {  // .cg (L2 only) takes 16-byte copies alone
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(s), "l"(src), "r"(valid ? 16 : 0) : "memory");
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;" ::"r"(s), "l"(src), "n"(kBytes),
                 "r"(valid ? kBytes : 0) : "memory");
  }
#endif
}

// Staging global memory in shared memory as float32, zeros where !inside (nothing is read from `global_from`
// then): float data by cp.async (no registers, waited for with WaitCopies), bf16 data widened through registers
// (cp.async cannot convert). One element, or four floats (16 bytes, aligned).
__device__ __forceinline__ void StageElement(float* shared_to, const float* global_from, bool inside) {
  CopyToShared<4>(shared_to, global_from, inside);
}
__device__ __forceinline__ void StageElement(float* shared_to, const __nv_bfloat16* global_from, bool inside) {
  *shared_to = inside ? __bfloat162float(*global_from) : 0.f;
}
__device__ __forceinline__ void StageQuad(float* shared_to, const float* global_from, bool inside) {
  CopyToShared<16>(shared_to, global_from, inside);
}

__device__ __forceinline__ void CommitCopies() {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::CommitCopies();
#else
  asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
// Waits for this thread's copies but the most recent `kPending` groups.
template <int kPending>
__device__ __forceinline__ void WaitCopies() {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::WaitCopies(kPending);
#else
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
#endif
}

}  // namespace cuda
}  // namespace ls

#endif  // LONGSEQ_CUDA_DEVICE_CUH_
