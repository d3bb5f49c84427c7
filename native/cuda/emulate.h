// The CUDA that fft_conv.cu's kernels use, on the CPU: each CUDA thread of a block a std::thread, __syncthreads and
// __syncwarp std::barriers, the dynamic shared memory a buffer poisoned with NaNs before each block. Tests compile
// fft_conv.cu with LONGSEQ_CUDA_EMULATE defined (its host side left out) against this header, so that the kernels'
// arithmetic and their barriers are checked on a machine without a GPU (test/fftConvEmulated.test.ts). Slow, only
// as strict as the host's memory model, and with the C library's sinf / cosf for __sincosf (more accurate than the
// special-function unit): a check of logic, not of speed or of the GPU's own behaviour.
#ifndef LONGSEQ_CUDA_EMULATE_H_
#define LONGSEQ_CUDA_EMULATE_H_

#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#define __device__
#define __global__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)

struct float2 {
  float x, y;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
struct dim3 {
  unsigned x = 0, y = 0, z = 0;
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

inline void __sincosf(float x, float* s, float* c) { *s = sinf(x), *c = cosf(x); }
inline float __int_as_float(int i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}

// bfloat16 storage: the top half of a float, rounded to nearest even (NaN kept a NaN).
struct __nv_bfloat16 {
  uint16_t bits;
};
inline float __bfloat162float(__nv_bfloat16 h) {
  const uint32_t u = uint32_t{h.bits} << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if (std::isnan(f)) return {0x7fc0};
  return {static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16)};
}

namespace ls {
namespace cuda {

inline float ToFloat(float x) { return x; }
inline float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
inline void StoreAs(float* p, float v) { *p = v; }
inline void StoreAs(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

namespace emulate {

// The running block's barriers and shared memory.
struct Block {
  std::unique_ptr<std::barrier<>> all;
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  std::vector<float2> shared;
};
inline Block* running = nullptr;

// Runs kernel() as `blocks` blocks of `threads` threads, one block after another, with `shared_bytes` of dynamic
// shared memory each.
template <class Kernel>
void Launch(int blocks, int threads, size_t shared_bytes, const Kernel& kernel) {
  Block block;
  block.shared.resize(shared_bytes / sizeof(float2));
  block.all = std::make_unique<std::barrier<>>(threads);
  for (int w = 0; w < (threads + 31) / 32; ++w) {
    block.warps.push_back(std::make_unique<std::barrier<>>(threads - 32 * w < 32 ? threads - 32 * w : 32));
  }
  running = &block;
  blockDim.x = threads, gridDim.x = blocks;
  for (int b = 0; b < blocks; ++b) {
    for (float2& v : block.shared) v = make_float2(NAN, NAN);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t, b] {
        threadIdx.x = t, blockIdx.x = b;
        kernel();
      });
    }
    for (std::thread& t : pool) t.join();
  }
  running = nullptr;
}

}  // namespace emulate
}  // namespace cuda
}  // namespace ls

inline void __syncthreads() { ls::cuda::emulate::running->all->arrive_and_wait(); }
inline void __syncwarp() { ls::cuda::emulate::running->warps[threadIdx.x / 32]->arrive_and_wait(); }

#define LS_SHARED_FLOAT2S(name) float2* name = ls::cuda::emulate::running->shared.data()

#endif  // LONGSEQ_CUDA_EMULATE_H_
