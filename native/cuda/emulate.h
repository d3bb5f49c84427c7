// The CUDA that the kernels use, on the CPU: each CUDA thread of a block a std::thread, __syncthreads and __syncwarp
// std::barriers, warp shuffles, tensor-core products (mma.sync) and ldmatrix an exchange through the warp's slots at a
// warp barrier, asynchronous copies (cp.async) queued per thread and done at the wait that covers them (their
// destination poisoned until then), the dynamic shared memory a buffer poisoned with NaNs before each block (static
// __shared__ arrays: one per kernel, not poisoned). Tests compile a kernel source with LONGSEQ_CUDA_EMULATE defined
// (its host side left out; cuda/device.cuh and cuda/tensor_core.cuh swap their PTX for the functions here) against this
// header, so that the kernels' arithmetic, barriers and copy waits are checked on a machine without a GPU
// (test/cudaEmulated.test.ts). Slow, only as strict as the host's memory model, and with the C library's exp2f, sinf,
// cosf and 1 / sqrtf for the special-function unit's (more accurate): a check of logic, not of speed or of the GPU's
// own behaviour. sm_90's bulk copies, their mbarriers, tensor maps (swizzled too) and bulk stores are here as well, for
// sources compiled with __CUDA_ARCH__ 900 defined, and sm_90a's warpgroup products (wgmma) with
// __CUDA_ARCH_FEAT_SM90_ALL; the products and the stores are checked at their waits against their operands then.
#ifndef LONGSEQ_CUDA_EMULATE_H_
#define LONGSEQ_CUDA_EMULATE_H_

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#define __device__
#define __global__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __grid_constant__
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
struct alignas(16) uint4 {
  uint32_t x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint2 make_uint2(uint32_t x, uint32_t y) { return {x, y}; }
inline uint4 make_uint4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) { return {x, y, z, w}; }
struct alignas(64) CUtensorMap {  // sm_90's tensor maps: here holding a TokenTiles (below)
  uint64_t opaque[16];
};
struct dim3 {
  unsigned x = 0, y = 0, z = 0;
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

inline void __sincosf(float x, float* s, float* c) { *s = sinf(x), *c = cosf(x); }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
template <typename T>
T __ldg(const T* p) {
  return *p;
}
inline float __int_as_float(int i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}
inline uint32_t __float_as_uint(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
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
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
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

// Stops the process where the kernel breaks a rule of the asynchronous operations that the GPU would not report.
[[noreturn]] inline void Stop(const char* what) {
  fprintf(stderr, "cuda/emulate.h: %s (block %u, thread %u)\n", what, blockIdx.x, threadIdx.x);
  std::abort();
}

// An sm_90 mbarrier as the bulk copies use it (one arrival a phase, by the thread that issues the copies, expecting
// their bytes): the copies wait in `copies` until a thread waits on the phase, which then completes it.
struct Mbarrier {
  unsigned phase = 0;  // phases completed
  int arrivals = 1;    // still to come in this phase
  int64_t expected = 0, issued = 0;  // bytes
  std::vector<std::function<void()>> copies;
};

// The running block's barriers (the block's, each warp's, and named barriers 1 to 15 made at their first use), the
// warps' exchange slots and shared memory.
struct Block {
  std::unique_ptr<std::barrier<>> all;
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  std::mutex named_made;
  std::unique_ptr<std::barrier<>> named[16];
  std::mutex mbarriers_lock;
  std::map<uint32_t, Mbarrier> mbarriers;  // by shared address
  std::vector<uint32_t> lanes;  // [warp][2][32][kLaneWords]: each lane's words in an exchange
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

// Warp-wide exchanges (shuffles, tensor-core products, ldmatrix): every lane of the warp offers `bytes` (up to
// kLaneWords words) and, once all have, reads any lane's; all lanes of the warp take part (the kernels' warp operations
// have full masks).
// The warp's exchanges alternate between two sets of slots, so one barrier each suffices: a lane can write a set again
// only after every lane has reached the next exchange, done reading this one. Returns lane 0's words of the set (lane
// i's at kLaneWords i), valid until this thread's next exchange but one.
constexpr int kLaneWords = 16;
inline thread_local unsigned exchanges = 0;  // this thread's exchanges so far
inline const uint32_t* Exchange(const void* words, int bytes) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  uint32_t* set = running->lanes.data() + 32 * kLaneWords * (2 * warp + exchanges++ % 2);
  memcpy(set + kLaneWords * lane, words, bytes);
  running->warps[warp]->arrive_and_wait();
  return set;
}

// Every lane offers `value` and takes lane source(lane)'s.
template <typename V, class Source>
V Shuffle(V value, Source source) {
  static_assert(sizeof(V) <= sizeof(uint64_t), "a shuffle moves 32-bit values (or pairs)");
  const uint32_t* lanes = Exchange(&value, sizeof value);
  V taken;
  memcpy(&taken, lanes + kLaneWords * source(threadIdx.x % 32), sizeof taken);
  return taken;
}

// Named barrier `id` (bar.sync / bar.arrive) of `threads` threads: every use of an id in a block gives the same count.
inline std::barrier<>& NamedBarrier(int id, int threads) {
  const std::lock_guard<std::mutex> lock(running->named_made);
  if (!running->named[id]) running->named[id] = std::make_unique<std::barrier<>>(threads);
  return *running->named[id];
}

// The dynamic shared memory's address of `p` (as __cvta_generic_to_shared gives it), and back.
inline uint32_t SharedAddress(const void* p) {
  return static_cast<uint32_t>(static_cast<const char*>(p) - reinterpret_cast<const char*>(running->shared.data()));
}
inline void* SharedPointer(uint32_t address) { return reinterpret_cast<char*>(running->shared.data()) + address; }

// Tensor-core products of a warp, mma.sync's fragment layouts: lane l holds rows g = l / 4 (+ 8) and columns or
// depths from t = l % 4. Sums in double, rounded once to float (the hardware's own order and rounding differ by
// float32 rounding). d += A B, A m16 x k8 of TF32 (the top 19 bits of each float: the hardware ignores the rest), B
// k8 x n8.
inline void MmaTf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  uint32_t words[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
  const uint32_t* lanes = Exchange(words, sizeof words);
  const int g = threadIdx.x % 32 / 4, t = threadIdx.x % 4;
  const auto tf32 = [](uint32_t x) { return double(__uint_as_float(x & 0xffffe000u)); };
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e / 2), column = 2 * t + e % 2;
    double sum = d[e];
    for (int k = 0; k < 8; ++k) {
      const uint32_t* a_lane = lanes + kLaneWords * (row % 8 * 4 + k % 4);
      const uint32_t* b_lane = lanes + kLaneWords * (column * 4 + k % 4);
      sum += tf32(a_lane[(row >= 8) + 2 * (k >= 4)]) * tf32(b_lane[4 + (k >= 4)]);
    }
    d[e] = static_cast<float>(sum);
  }
}
// d += A B, A m16 x k16 and B k16 x n8 of bf16 pairs (the lower index in the low half).
inline void MmaBf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  uint32_t words[6] = {a[0], a[1], a[2], a[3], b0, b1};
  const uint32_t* lanes = Exchange(words, sizeof words);
  const int g = threadIdx.x % 32 / 4, t = threadIdx.x % 4;
  const auto half = [](uint32_t x, int k) { return double(__uint_as_float(k % 2 ? x & 0xffff0000u : x << 16)); };
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e / 2), column = 2 * t + e % 2;
    double sum = d[e];
    for (int k = 0; k < 16; ++k) {
      const uint32_t* a_lane = lanes + kLaneWords * (row % 8 * 4 + k % 8 / 2);
      const uint32_t* b_lane = lanes + kLaneWords * (column * 4 + k % 8 / 2);
      sum += half(a_lane[(row >= 8) + 2 * (k >= 8)], k) * half(b_lane[4 + (k >= 8)], k);
    }
    d[e] = static_cast<float>(sum);
  }
}
// ldmatrix of `count` (2 or 4) 8 x 8 matrices of 16-bit elements: lane 8 j + i gives the shared address of row i of
// matrix j; r[j] gets lane l's two elements of matrix j, row l / 4, columns 2 (l % 4) and + 1 (transposed: of its
// transpose).
inline void LoadMatrices(uint32_t* r, int count, bool transpose, uint32_t address) {
  const uint32_t* lanes = Exchange(&address, sizeof address);
  const int lane = threadIdx.x % 32, row = lane / 4, column = 2 * (lane % 4);
  const auto element = [&](int matrix, int i, int c) {
    uint16_t v;
    memcpy(&v, static_cast<const char*>(SharedPointer(lanes[kLaneWords * (8 * matrix + i)])) + 2 * c, sizeof v);
    return uint32_t{v};
  };
  for (int j = 0; j < count; ++j) {
    r[j] = transpose ? element(j, column, row) | element(j, column + 1, row) << 16
                     : element(j, row, column) | element(j, row, column + 1) << 16;
  }
}

// stmatrix of `count` 8 x 8 matrices, LoadMatrices' inverse: lane 8 j + i gives the shared address of row i of matrix
// j; r[j] holds lane l's two elements of matrix j, row l / 4, columns 2 (l % 4) and + 1 (transposed: of its transpose).
// Each lane writes its own row.
inline void StoreMatrices(const uint32_t* r, int count, bool transpose, uint32_t address) {
  uint32_t words[5] = {address};
  memcpy(words + 1, r, count * sizeof(uint32_t));
  const uint32_t* lanes = Exchange(words, sizeof words);
  const int lane = threadIdx.x % 32, j = lane / 8, i = lane % 8;
  if (j >= count) return;
  for (int c = 0; c < 8; ++c) {
    // element (i, c) of matrix j: lane 4 i + c / 2's half c % 2, or (transposed) lane 4 c + i / 2's half i % 2
    const int from = transpose ? 4 * c + i / 2 : 4 * i + c / 2, half = transpose ? i % 2 : c % 2;
    const uint16_t v = static_cast<uint16_t>(lanes[kLaneWords * from + 1 + j] >> (16 * half));
    memcpy(static_cast<char*>(SharedPointer(address)) + 2 * c, &v, sizeof v);
  }
}
// sqrt(error / norm), for the tests' relative L2 errors (sums of squares); 0 where both are 0.
inline double RelativeL2(double error, double norm) { return std::sqrt(error / std::max(norm, 1e-300)); }

// sm_90's bulk copies (cp.async.bulk, the tensor memory accelerator) and their mbarriers, by shared address.
inline void InitMbarrier(uint32_t address) {
  const std::lock_guard<std::mutex> lock(running->mbarriers_lock);
  running->mbarriers[address] = Mbarrier();
}
inline void ArriveExpecting(uint32_t address, uint32_t bytes) {
  const std::lock_guard<std::mutex> lock(running->mbarriers_lock);
  Mbarrier& m = running->mbarriers.at(address);
  --m.arrivals, m.expected += bytes;
}
// A copy counted by the mbarrier at `address` that writes `bytes` at shared address `to` by write(): the destination
// poisoned until a wait completes the phase.
inline void IssueBulk(uint32_t address, uint32_t to, uint32_t bytes, std::function<void()> write) {
  for (uint32_t i = 0; i + 4 <= bytes; i += 4) memcpy(static_cast<char*>(SharedPointer(to)) + i, &kPoison, 4);
  const std::lock_guard<std::mutex> lock(running->mbarriers_lock);
  Mbarrier& m = running->mbarriers.at(address);
  m.issued += bytes, m.copies.push_back(std::move(write));
}
inline void BulkCopy(uint32_t to, const void* from, uint32_t bytes, uint32_t address) {
  IssueBulk(address, to, bytes, [to, from, bytes] { memcpy(SharedPointer(to), from, bytes); });
}
// mbarrier.try_wait.parity until the phase of that parity completes: once its arrival has come and copies of the bytes
// it expected have been issued, the first thread to look makes them land. Copies of more bytes than expected abort
// here; of fewer, the phase never completes (the GPU would hang), which aborts after a minute.
inline void WaitMbarrier(uint32_t address, uint32_t parity) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    {
      const std::lock_guard<std::mutex> lock(running->mbarriers_lock);
      Mbarrier& m = running->mbarriers.at(address);
      if ((m.phase & 1) != parity) return;
      if (m.arrivals == 0 && m.issued >= m.expected) {
        if (m.issued > m.expected) Stop("an mbarrier phase's copies wrote more bytes than it expected");
        for (const auto& write : m.copies) write();
        m = Mbarrier{m.phase + 1};
        return;
      }
    }
    if (std::chrono::steady_clock::now() - start > std::chrono::minutes(1)) {
      Stop("an mbarrier phase never completes");
    }
    std::this_thread::yield();
  }
}

// A shared address as the tensor memory accelerator and the warpgroup products swizzle it (`swizzle_bytes` 128, 64,
// 32 or 0): its 16-byte chunk bits [4, 4 + b) XOR bits [7, 7 + b), b = 3, 2, 1 (the tiles 1024-byte aligned).
inline uint32_t Swizzled(uint32_t address, int swizzle_bytes) {
  const uint32_t bits = swizzle_bytes == 128 ? 7 : swizzle_bytes == 64 ? 3 : swizzle_bytes == 32 ? 1 : 0;
  return address ^ (((address >> 7) & bits) << 4);
}

// sm_90's tensor maps of bf16 or float32 tensors [batch][seqlen][heads][dim] whose boxes are one head's rows
// (EncodeTokenTiles in cuda/common.cuh), kept in the CUtensorMap's bytes: boxes land as rows of box_dim elements,
// swizzled, zeros where they leave the tensor; stores (bf16 only) write back the parts inside it.
struct TokenTiles {
  char* base;
  int64_t size[4];  // dim, heads, seqlen, batch
  int box_dim, box_tokens, swizzle_bytes, element_bytes;
  // The element of box element (token, d) at coordinates (c0, c1, c2, c3), or null outside the tensor.
  char* At(int c0, int c1, int c2, int c3, int token, int d) const {
    const int64_t i = c0 + d, s = c2 + token;
    const bool inside = i >= 0 && i < size[0] && c1 >= 0 && c1 < size[1] && s >= 0 && s < size[2] && c3 >= 0 &&
                        c3 < size[3];
    return inside ? base + (((c3 * size[2] + s) * size[1] + c1) * size[0] + i) * element_bytes : nullptr;
  }
  char* Shared(uint32_t to, int token, int d) const {
    return static_cast<char*>(SharedPointer(Swizzled(to + element_bytes * (token * box_dim + d), swizzle_bytes)));
  }
};
static_assert(sizeof(TokenTiles) <= sizeof(CUtensorMap), "a tensor map holds the emulation's");
inline bool EncodeTokenTiles(CUtensorMap* map, const void* base, int64_t batch, int64_t seqlen, int64_t heads,
                             int64_t dim, int box_dim, int box_tokens, int swizzle_bytes = 0, int element_bytes = 2) {
  if (dim * element_bytes % 16 != 0 || reinterpret_cast<uintptr_t>(base) % 16 != 0) return false;
  const TokenTiles tiles = {static_cast<char*>(const_cast<void*>(base)), {dim, heads, seqlen, batch}, box_dim,
                            box_tokens, swizzle_bytes, element_bytes};
  memcpy(map, &tiles, sizeof tiles);
  return true;
}
inline void CopyTile(uint32_t to, const CUtensorMap* map, int c0, int c1, int c2, int c3, uint32_t address) {
  TokenTiles t;
  memcpy(&t, map, sizeof t);
  IssueBulk(address, to, t.element_bytes * t.box_dim * t.box_tokens, [to, t, c0, c1, c2, c3] {
    for (int token = 0; token < t.box_tokens; ++token) {
      for (int d = 0; d < t.box_dim; ++d) {
        const char* from = t.At(c0, c1, c2, c3, token, d);
        char* shared = t.Shared(to, token, d);
        if (from) memcpy(shared, from, t.element_bytes);
        else memset(shared, 0, t.element_bytes);
      }
    }
  });
}
// The box at shared address `from` to the tensor's elements it covers (a bulk store). The hardware may read the box at
// any time until the store's wait (cp.async.bulk.wait_group.read), so here it is read at the store and again at the
// wait, which writes out what it read and stops the process if the two differ, as it does if the thread ends with a
// store not waited for.
struct PendingStore {
  TokenTiles tiles;
  uint32_t from;
  int c0, c1, c2, c3;
  std::vector<uint16_t> box;  // [token][d], as read at the store
  // Calls element(i, shared, global) for the box's elements in [token][d] order (global null outside the tensor).
  template <class Element>
  void ForEach(const Element& element) const {
    int i = 0;
    for (int token = 0; token < tiles.box_tokens; ++token) {
      for (int d = 0; d < tiles.box_dim; ++d) {
        element(i++, reinterpret_cast<uint16_t*>(tiles.Shared(from, token, d)),
                reinterpret_cast<uint16_t*>(tiles.At(c0, c1, c2, c3, token, d)));
      }
    }
  }
  std::vector<uint16_t> Read() const {
    std::vector<uint16_t> box;
    ForEach([&](int, const uint16_t* shared, uint16_t*) { box.push_back(*shared); });
    return box;
  }
};
struct PendingStores {
  std::vector<PendingStore> stores;
  ~PendingStores() {
    if (!stores.empty()) Stop("a bulk store was never waited for");
  }
};
inline thread_local PendingStores pending_stores;
inline void StoreTile(uint32_t from, const CUtensorMap* map, int c0, int c1, int c2, int c3) {
  PendingStore store = {{}, from, c0, c1, c2, c3, {}};
  memcpy(&store.tiles, map, sizeof store.tiles);
  if (store.tiles.element_bytes != 2) Stop("a bulk tensor store of other than bf16 (not emulated)");
  store.box = store.Read();
  pending_stores.stores.push_back(std::move(store));
}
// Waits until every bulk store of this thread has read its box.
inline void WaitBulkStoresRead() {
  for (const PendingStore& s : pending_stores.stores) {
    const std::vector<uint16_t> box = s.Read();
    if (box != s.box) Stop("a bulk store's box in shared memory changed before its wait");
    s.ForEach([&](int i, const uint16_t*, uint16_t* global) {
      if (global) *global = box[i];
    });
  }
  pending_stores.stores.clear();
}

// Hopper's warpgroup products (wgmma.mma_async): d += A B (d = A B without `accumulate`) for the warpgroup's 64 rows,
// n8 tiles side by side, d[4 n + e] as an mma.sync accumulator's element e of n8 tile n of the warp's 16 rows; A the
// warp's m16n8k16 fragment (a_fragment) or K-major in shared memory at a descriptor, B at a descriptor, K-major or
// (mn_major_b) MN-major. A descriptor: start address, leading and stride byte offsets, swizzle.
inline uint32_t DescribedAddress(uint64_t descriptor, int mn, int k, bool mn_major) {
  const uint32_t start = static_cast<uint32_t>(descriptor & 0x3FFF) << 4;
  const uint32_t leading = static_cast<uint32_t>((descriptor >> 16) & 0x3FFF) << 4;
  const uint32_t stride = static_cast<uint32_t>((descriptor >> 32) & 0x3FFF) << 4;
  const int mode = static_cast<int>(descriptor >> 62), swizzle = mode == 1 ? 128 : mode == 2 ? 64 : mode == 3 ? 32 : 16;
  const int row_elements = swizzle / 2;  // a swizzle atom's row
  const uint32_t at =
      mn_major ? start + (k / 8) * stride + (k % 8) * swizzle + (mn / row_elements) * leading + 2 * (mn % row_elements)
               : start + (mn / 8) * stride + (mn % 8) * swizzle + 2 * k;
  return Swizzled(at, mode == 0 ? 0 : swizzle);
}
inline double SharedBf16(uint32_t address) {
  uint16_t v;
  memcpy(&v, SharedPointer(address), sizeof v);
  return __uint_as_float(uint32_t{v} << 16);
}

// The hardware runs a product between its issue and the wait_group that covers it, reading its shared-memory operands
// and its registers and writing d at any time in between; the kernel must leave them alone until that wait. So here a
// product is worked out at its issue, d then holds NaNs until the wait, and at the wait it is worked out again from
// the operands as they are then: the process stops, naming what changed, where shared memory or the A fragment
// differ from what they were at the issue, or where d was written meanwhile. Products on the same d chain through
// their results. Per thread, in the order issued.
struct PendingWgmma {
  float* d;
  int count;                                   // d's elements
  std::vector<float> result;                   // as worked out at the issue
  std::function<std::vector<float>()> redo;    // the product from the shared operands as they are now
  const uint32_t* a_fragment;                  // the thread's A registers (or null) and their words at the issue
  uint32_t a_words[4];
  int group;                                   // its commit group; -1 until committed
};
struct PendingWgmmas {
  std::vector<PendingWgmma> products;
  int groups = 0;  // commit groups so far
  ~PendingWgmmas() {
    if (!products.empty()) Stop("a warpgroup product was never waited for");
  }
};
inline thread_local PendingWgmmas pending_wgmma;

inline void Wgmma(float* d, int n_tiles, const uint32_t* a_fragment, uint64_t a_descriptor, uint64_t b_descriptor,
                  bool mn_major_b, bool accumulate) {
  std::vector<uint32_t> lanes;  // the warp's A fragments, exchanged at the issue
  if (a_fragment) {
    const uint32_t* set = Exchange(a_fragment, 4 * sizeof(uint32_t));
    lanes.assign(set, set + 32 * kLaneWords);
  }
  const int count = 4 * n_tiles;
  std::vector<float> input(count, 0.f);
  if (accumulate) {
    const PendingWgmma* chained = nullptr;
    for (const PendingWgmma& p : pending_wgmma.products) chained = p.d == d ? &p : chained;
    if (chained) {
      input = chained->result;
    } else {
      input.assign(d, d + count);
    }
  }
  const int g = threadIdx.x % 32 / 4, t = threadIdx.x % 4, warp = threadIdx.x / 32 % 4;
  auto product = [=] {
    const auto a = [&](int row, int k) {
      if (lanes.empty()) return SharedBf16(DescribedAddress(a_descriptor, 16 * warp + row, k, false));
      const uint32_t x = lanes[kLaneWords * (row % 8 * 4 + k % 8 / 2) + (row >= 8) + 2 * (k >= 8)];
      return double(__uint_as_float(k % 2 ? x & 0xffff0000u : x << 16));
    };
    std::vector<float> out(count);
    for (int n = 0; n < n_tiles; ++n) {
      for (int e = 0; e < 4; ++e) {
        const int row = g + 8 * (e / 2), column = 8 * n + 2 * t + e % 2;
        double sum = input[4 * n + e];
        for (int k = 0; k < 16; ++k) sum += a(row, k) * SharedBf16(DescribedAddress(b_descriptor, column, k, mn_major_b));
        out[4 * n + e] = static_cast<float>(sum);
      }
    }
    return out;
  };
  PendingWgmma p = {d, count, product(), product, a_fragment, {}, -1};
  if (a_fragment) memcpy(p.a_words, a_fragment, sizeof p.a_words);
  pending_wgmma.products.push_back(std::move(p));
  const float poison = __uint_as_float(kPoison);
  std::fill(d, d + count, poison);
}
inline void WgmmaCommit() {
  for (PendingWgmma& p : pending_wgmma.products) p.group = p.group < 0 ? pending_wgmma.groups : p.group;
  ++pending_wgmma.groups;
}
// Completes the products of every committed group but the most recent `groups_pending`.
inline void WgmmaWait(int groups_pending) {
  std::vector<PendingWgmma>& products = pending_wgmma.products;
  const int last_done = pending_wgmma.groups - 1 - groups_pending;
  size_t done = 0;
  // Groups follow the order of issue, so the products done are the first ones (those not committed stay pending).
  while (done < products.size() && products[done].group >= 0 && products[done].group <= last_done) ++done;
  for (size_t i = 0; i < done; ++i) {
    const PendingWgmma& p = products[i];
    if (p.redo() != p.result) Stop("a warpgroup product's shared-memory operand changed before its wait");
    if (p.a_fragment && memcmp(p.a_fragment, p.a_words, sizeof p.a_words) != 0) {
      Stop("a warpgroup product's A fragment changed before its wait");
    }
    bool chained_on = false;  // a later product accumulates into the same d
    for (size_t j = i + 1; j < products.size(); ++j) chained_on = chained_on || products[j].d == p.d;
    if (chained_on) continue;
    for (int e = 0; e < p.count; ++e) {
      if (__float_as_uint(p.d[e]) != kPoison) Stop("a warpgroup product's d was written before its wait");
    }
    std::copy(p.result.begin(), p.result.end(), p.d);
  }
  products.erase(products.begin(), products.begin() + static_cast<std::ptrdiff_t>(done));
}

// Runs kernel() as `blocks` blocks of `threads` threads, one block after another, with `shared_bytes` of dynamic
// shared memory each.
template <class Kernel>
void Launch(int blocks, int threads, size_t shared_bytes, const Kernel& kernel) {
  Block block;
  block.shared.resize((shared_bytes + sizeof(float4) - 1) / sizeof(float4));
  block.lanes.resize(2 * 32 * kLaneWords * ((threads + 31) / 32));
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

using std::max;  // CUDA's min and max overloads for device code
using std::min;
inline uint32_t __cvta_generic_to_shared(const void* p) { return ls::cuda::emulate::SharedAddress(p); }
inline int __ffs(int x) { return __builtin_ffs(x); }
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
