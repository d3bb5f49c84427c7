// The CUDA that the kernels off tensor cores use, on the CPU: each CUDA thread of a block a std::thread, __syncthreads
// and __syncwarp std::barriers, warp shuffles an exchange through the warp's slots at a warp barrier, asynchronous
// copies (cp.async) queued per thread and done at the wait that covers them (their destination poisoned until then),
// the dynamic shared memory a buffer poisoned with NaNs before each block (static __shared__ arrays: one per kernel,
// not poisoned). Tests compile a kernel source with LONGSEQ_CUDA_EMULATE defined (its host side left out;
// cuda/device.cuh swaps its PTX for the functions here) against this header, so that the kernels' arithmetic, barriers
// and copy waits are checked on a machine without a GPU (test/cudaEmulated.test.ts). Slow, only as strict as the host's
// memory model, and with the C library's exp2f, sinf, cosf and 1 / sqrtf for the special-function unit's (more
// accurate): a check of logic, not of speed or of the GPU's own behaviour. Not here: tensor-core products, ldmatrix,
// bulk copies and mbarriers (the chunked delta rule's and SSD scan's products).
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
#define __align__(n) __attribute__((aligned(n)))
// A block's static shared arrays: one per kernel instantiation, which serves every block as blocks run one at a time.
#define __shared__ static

struct float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) uint2 {
  uint32_t x, y;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint2 make_uint2(uint32_t x, uint32_t y) { return {x, y}; }
struct dim3 {
  unsigned x = 0, y = 0, z = 0;
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

inline void __sincosf(float x, float* s, float* c) { *s = sinf(x), *c = cosf(x); }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline float __int_as_float(int i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}
inline float __uint_as_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// bfloat16 storage: the top half of a float, rounded to nearest even (NaN kept a NaN).
struct __nv_bfloat16 {
  uint16_t bits;
};
struct __nv_bfloat162 {
  __nv_bfloat16 x, y;
};
inline float __bfloat162float(__nv_bfloat16 h) { return __uint_as_float(uint32_t{h.bits} << 16); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if (std::isnan(f)) return {0x7fc0};
  return {static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16)};
}
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) {
  return {__float2bfloat16_rn(lo), __float2bfloat16_rn(hi)};
}

namespace ls {
namespace cuda {
namespace emulate {

// The special-function unit's .ftz results: denormals become zero (of the same sign).
inline float FlushDenormal(float x) { return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.f, x) : x; }

// What shared memory is filled with before each block, and what an asynchronous copy's destination holds until its
// wait: a float NaN whose halves are bfloat16 NaNs.
constexpr uint32_t kPoison = 0x7fc07fc0u;

// The running block's barriers, shuffle slots and shared memory.
struct Block {
  std::unique_ptr<std::barrier<>> all;
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  std::vector<uint64_t> lanes;  // [warp][2][32]: each lane's value in a shuffle
  std::vector<float4> shared;
};
inline Block* running = nullptr;

// A thread's asynchronous copies, in the order issued, and where each committed group ends.
struct Copy {
  void* dst;
  const void* src;
  int bytes;
  bool valid;
};
struct PendingCopies {
  std::vector<Copy> copies;
  std::vector<size_t> group_ends;
};
inline thread_local PendingCopies pending;

inline void CopyToShared(void* dst, const void* src, int bytes, bool valid) {
  for (int i = 0; i < bytes; i += 4) memcpy(static_cast<char*>(dst) + i, &kPoison, 4);
  pending.copies.push_back({dst, src, bytes, valid});
}
inline void CommitCopies() { pending.group_ends.push_back(pending.copies.size()); }
// Completes the copies of every committed group but the most recent `groups_pending`.
inline void WaitCopies(int groups_pending) {
  if (static_cast<int>(pending.group_ends.size()) <= groups_pending) return;
  const size_t done = pending.group_ends[pending.group_ends.size() - 1 - groups_pending];
  for (size_t i = 0; i < done; ++i) {
    const Copy& c = pending.copies[i];
    if (c.valid) {
      memcpy(c.dst, c.src, c.bytes);
    } else {
      memset(c.dst, 0, c.bytes);
    }
  }
  pending.copies.erase(pending.copies.begin(), pending.copies.begin() + static_cast<std::ptrdiff_t>(done));
  pending.group_ends.erase(pending.group_ends.begin(), pending.group_ends.end() - groups_pending);
  for (size_t& end : pending.group_ends) end -= done;
}

// Every lane of the warp offers `value` and takes lane source(lane)'s, all lanes of the warp taking part (the kernels
// shuffle with full masks only). The warp's shuffles alternate between two sets of slots, so one barrier each
// suffices: a lane can write a set again only after every lane has reached the next shuffle, done reading this one.
inline thread_local unsigned shuffles = 0;  // this thread's shuffles so far
template <typename V, class Source>
V Shuffle(V value, Source source) {
  static_assert(sizeof(V) <= sizeof(uint64_t), "a shuffle moves 32-bit values (or pairs)");
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  uint64_t* slots = running->lanes.data() + 32 * (2 * warp + shuffles++ % 2);
  memcpy(&slots[lane], &value, sizeof value);
  running->warps[warp]->arrive_and_wait();
  V taken;
  memcpy(&taken, &slots[source(lane)], sizeof taken);
  return taken;
}

// Runs kernel() as `blocks` blocks of `threads` threads, one block after another, with `shared_bytes` of dynamic
// shared memory each.
template <class Kernel>
void Launch(int blocks, int threads, size_t shared_bytes, const Kernel& kernel) {
  Block block;
  block.shared.resize((shared_bytes + sizeof(float4) - 1) / sizeof(float4));
  block.lanes.resize(2 * 32 * ((threads + 31) / 32));
  block.all = std::make_unique<std::barrier<>>(threads);
  for (int w = 0; w < (threads + 31) / 32; ++w) {
    block.warps.push_back(std::make_unique<std::barrier<>>(threads - 32 * w < 32 ? threads - 32 * w : 32));
  }
  running = &block;
  blockDim.x = threads, gridDim.x = blocks;
  for (int b = 0; b < blocks; ++b) {
    for (float4& v : block.shared) {
      const float poison = __uint_as_float(kPoison);
      v = {poison, poison, poison, poison};
    }
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
template <typename V>
V __shfl_up_sync(unsigned, V value, int delta) {
  return ls::cuda::emulate::Shuffle(value, [delta](int lane) { return lane >= delta ? lane - delta : lane; });
}
template <typename V>
V __shfl_xor_sync(unsigned, V value, int lane_mask) {
  return ls::cuda::emulate::Shuffle(value, [lane_mask](int lane) { return lane ^ lane_mask; });
}

#define LS_SHARED(type, name) type* name = reinterpret_cast<type*>(ls::cuda::emulate::running->shared.data())

#endif  // LONGSEQ_CUDA_EMULATE_H_
