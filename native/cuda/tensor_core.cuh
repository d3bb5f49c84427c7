// Matrix products on tensor cores in float32 accuracy (3xTF32 through mma.sync), and the asynchronous copies
// (cp.async) that stage their operands in shared memory: shared by the chunked kernels (delta rule, SSD).
#ifndef LONGSEQ_CUDA_TENSOR_CORE_CUH_
#define LONGSEQ_CUDA_TENSOR_CORE_CUH_

#include <stdint.h>

#ifdef LONGSEQ_CUDA_EMULATE  // on the CPU (cuda/emulate.h): mma.sync and ldmatrix; not the sm_90 parts below
#include "cuda/device.cuh"
#else
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#endif

namespace ls {
namespace cuda {

// x = hi + lo with hi = x truncated to TF32 (the top 19 bits) and lo the exact rest, whose own low bits the tensor
// cores drop (a relative error of 2^-20 of x at most). Two instructions where cvt.rna.tf32 pairs took several.
__device__ __forceinline__ void SplitTf32(float x, uint32_t& hi, uint32_t& lo) {
  hi = __float_as_uint(x) & 0xffffe000u;
  lo = __float_as_uint(x - __uint_as_float(hi));
}

__device__ __forceinline__ void Mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::MmaTf32(d, a, b);
#else
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// A warp's 16 x 8 kN tiles of kA products with one right-hand side: acc[p][n] (columns 8n .. 8n + 7) += A[p] B
// over `depth` (a multiple of 8), A[p]'s element (r, k) at A[p][r * ar + k * ak], B's (k, c) at B[k * br + c * bc].
// acc[p][n][e] is the element at row lane / 4 + 8 (e / 2), column 8 n + 2 (lane % 4) + e % 2 (the mma
// accumulator layout). The two remainder products go to their own accumulators, so three chains of dependent
// mma per tile run side by side instead of one three times as long.
template <int kA, int kN>
__device__ __forceinline__ void WarpProducts(float (&acc)[kA][kN][4], const float* const (&A)[kA], int ar, int ak,
                                             const float* B, int br, int bc, int depth) {
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  float fix[kA][kN][2][4] = {};
  for (int k0 = 0; k0 < depth; k0 += 8) {
    uint32_t bh[kN][2], bl[kN][2];
#pragma unroll
    for (int n = 0; n < kN; ++n) {
      SplitTf32(B[(k0 + t) * br + (8 * n + g) * bc], bh[n][0], bl[n][0]);
      SplitTf32(B[(k0 + t + 4) * br + (8 * n + g) * bc], bh[n][1], bl[n][1]);
    }
#pragma unroll
    for (int p = 0; p < kA; ++p) {
      const float* a = A[p];
      uint32_t ah[4], al[4];
      SplitTf32(a[g * ar + (k0 + t) * ak], ah[0], al[0]);
      SplitTf32(a[(g + 8) * ar + (k0 + t) * ak], ah[1], al[1]);
      SplitTf32(a[g * ar + (k0 + t + 4) * ak], ah[2], al[2]);
      SplitTf32(a[(g + 8) * ar + (k0 + t + 4) * ak], ah[3], al[3]);
#pragma unroll
      for (int n = 0; n < kN; ++n) {
        Mma(fix[p][n][0], al, bh[n]);
        Mma(fix[p][n][1], ah, bl[n]);
        Mma(acc[p][n], ah, bh[n]);
      }
    }
  }
#pragma unroll
  for (int p = 0; p < kA; ++p) {
#pragma unroll
    for (int n = 0; n < kN; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[p][n][e] += fix[p][n][0][e] + fix[p][n][1][e];
    }
  }
}

// One product's 16 x 8 kN tiles.
template <int kN>
__device__ __forceinline__ void WarpProduct(float (&acc)[kN][4], const float* A, int ar, int ak, const float* B, int br,
                                            int bc, int depth) {
  float (&one)[1][kN][4] = reinterpret_cast<float (&)[1][kN][4]>(acc);
  const float* const a[1] = {A};
  WarpProducts<1, kN>(one, a, ar, ak, B, br, bc, depth);
}

// Row and column (within the 16 x 16 tile) of accumulator element acc[n][e].
__device__ __forceinline__ int TileRow(int e) { return threadIdx.x % 32 / 4 + 8 * (e / 2); }
__device__ __forceinline__ int TileColumn(int n, int e) { return 8 * n + 2 * (threadIdx.x % 4) + e % 2; }

// The rows [first, first + step, ...) and the column of quads c that this thread stages of rows x (width / 4)
// quads (width <= 4 blockDim.x); false where the thread has none. Shifts where the quads are a power of two.
__device__ __forceinline__ bool QuadColumn(int width, int& first, int& step, int& c) {
  const int quads = width / 4;
  if ((quads & (quads - 1)) == 0) {
    const int shift = __ffs(quads) - 1;
    first = threadIdx.x >> shift, step = blockDim.x >> shift, c = 4 * (threadIdx.x & (quads - 1));
    return true;
  }
  first = threadIdx.x / quads, step = blockDim.x / quads, c = 4 * (threadIdx.x % quads);
  return threadIdx.x < step * quads;
}

// Stages `rows` rows of `width` floats (global row r at from + r * from_stride) into shared rows of `stride`, zeros
// for rows >= valid_rows and columns >= valid_width. Where the rows allow quads (and width <= 4 blockDim.x), each
// thread keeps one column of quads, its rows a step apart (no division per copy), by 16-byte cp.async; else element
// by element. Waited for with WaitCopies.
__device__ __forceinline__ void StageRows(float* to, int stride, const float* from, int64_t from_stride, int rows,
                                          int valid_rows, int width, int valid_width) {
  if (valid_width % 4 == 0 && from_stride % 4 == 0 && reinterpret_cast<uintptr_t>(from) % 16 == 0) {
    int first, step, c;
    if (!QuadColumn(width, first, step, c)) return;
    for (int r = first; r < rows; r += step) {
      const bool inside = r < valid_rows && c < valid_width;
      StageQuad(to + r * stride + c, inside ? from + r * from_stride + c : from, inside);
    }
    return;
  }
  for (int i = threadIdx.x; i < rows * width; i += blockDim.x) {
    const int r = i / width, c = i % width;
    const bool inside = r < valid_rows && c < valid_width;
    StageElement(to + r * stride + c, inside ? from + r * from_stride + c : from, inside);
  }
}

// --- bf16 operands: exact for bf16 data, one mma.sync m16n8k16 per 16 x 8 x 16 product, float32 accumulation ---

__device__ __forceinline__ void MmaBf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::MmaBf16(d, a, b0, b1);
#else
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Two floats rounded to bf16, `low` in the low half (the lower index of an mma fragment register).
__device__ __forceinline__ uint32_t PackBf16(float low, float high) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(low, high);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// Four 8 x 8 matrices of 16-bit elements from shared memory (ldmatrix): lane l gives the address of row l % 8 of
// matrix l / 8, and r[j] gets matrix j in mma fragment order (kTranspose: each matrix transposed). With
// `stride` elements between rows, the operands of MmaBf16 for a warp's 16 x 16 tile (or two 8-column B tiles):
//   A (row r, depth k), stored [r][k]:  LoadMatrices<false>(a, at + MatrixRow(lane, 1) * stride + MatrixColumn(lane, 2))
//   A stored [k][r]:                    LoadMatrices<true>(a, at + MatrixRow(lane, 2) * stride + MatrixColumn(lane, 1))
//   B (depth k, column c), stored [c][k]: LoadMatrices<false>(b, at + MatrixRow(lane, 2) * stride + MatrixColumn(lane, 1))
//   B stored [k][c]:                    LoadMatrices<true>(b, at + MatrixRow(lane, 1) * stride + MatrixColumn(lane, 2))
// where a B load's b[0], b[1] are columns 0..7 and b[2], b[3] columns 8..15.
// Here from a row's shared-memory address (for tiles laid out by address arithmetic, such as swizzled ones); the
// pointer form below converts its pointer to one.
template <bool kTranspose>
__device__ __forceinline__ void LoadMatrices(uint32_t (&r)[4], uint32_t at) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::LoadMatrices(r, 4, kTranspose, at);
#else
  if (kTranspose) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(at) : "memory");
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(at) : "memory");
  }
#endif
}
#if __CUDA_ARCH__ >= 900
// stmatrix (sm_90), LoadMatrices' inverse: lane 8 j + i gives the shared address of row i of matrix j; r[j] holds the
// lane's two elements of matrix j, row lane / 4, columns 2 (lane % 4) and + 1 (kTranspose: of its transpose).
template <bool kTranspose>
__device__ __forceinline__ void StoreMatrices(const uint32_t (&r)[4], uint32_t at) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::StoreMatrices(r, 4, kTranspose, at);
#else
  if (kTranspose) {
    asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};" ::"r"(at), "r"(r[0]), "r"(r[1]),
                 "r"(r[2]), "r"(r[3]) : "memory");
  } else {
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};" ::"r"(at), "r"(r[0]), "r"(r[1]), "r"(r[2]),
                 "r"(r[3]) : "memory");
  }
#endif
}
#endif
template <bool kTranspose>
__device__ __forceinline__ void LoadMatrices(uint32_t (&r)[4], const __nv_bfloat16* row) {
  LoadMatrices<kTranspose>(r, static_cast<uint32_t>(__cvta_generic_to_shared(row)));
}
// Two 8 x 8 matrices (ldmatrix .x2): the B operand of MmaBf16 for 8 columns, stored [k][c] (depth k, column c),
// rows `stride` elements apart: LoadMatrices2T(b, at + (lane % 16) * stride), b[0] depth 0..7 and b[1] 8..15.
__device__ __forceinline__ void LoadMatrices2T(uint32_t (&r)[2], const __nv_bfloat16* row) {
  const uint32_t at = static_cast<uint32_t>(__cvta_generic_to_shared(row));
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::LoadMatrices(r, 2, true, at);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];" : "=r"(r[0]), "=r"(r[1]) : "r"(at) : "memory");
#endif
}
// Two floats as two bf16 pairs, hi = rounded and lo = the rounded rest, so that hi + lo holds them to 2^-17: for
// products that must keep float32 accuracy (hi·hi + hi·lo + lo·hi).
__device__ __forceinline__ void SplitBf16(float x0, float x1, uint32_t& hi, uint32_t& lo) {
  hi = PackBf16(x0, x1);
  lo = PackBf16(x0 - __uint_as_float(hi << 16), x1 - __uint_as_float(hi & 0xffff0000u));
}
// The row and column a lane addresses for LoadMatrices: matrix j = lane / 8 starts 8 rows down where
// (j / row_step) % 2 and 8 columns right where (j / column_step) % 2 (steps 1 and 2, one each).
__device__ __forceinline__ int MatrixRow(int lane, int row_step) { return lane % 8 + 8 * (lane / 8 / row_step % 2); }
__device__ __forceinline__ int MatrixColumn(int lane, int column_step) { return 8 * (lane / 8 / column_step % 2); }

// Stages a tile of kRows x kWidth bf16 (kWidth a multiple of 8) into shared rows of `stride`, as stored, zeros
// for rows >= valid_rows and columns >= valid_width; kThreads threads (a multiple of kWidth / 8, dividing kRows x
// kWidth / 8) take part. Where the rows allow (`fast`: the source and its row stride 16-byte aligned, valid_width a
// multiple of 8), by 16-byte cp.async (waited for with WaitCopies), each thread keeping one column of
// eight-element groups at a fixed row step, its addresses stepped (no index products per copy); else element by
// element.
template <int kRows, int kWidth, int kThreads>
__device__ __forceinline__ void StageBf16Tile(__nv_bfloat16* to, int stride, const __nv_bfloat16* from, int64_t from_stride,
                                              int valid_rows, int valid_width, bool fast) {
  constexpr int kGroups = kWidth / 8, kStep = kThreads / kGroups;
  static_assert(kThreads % kGroups == 0 && kRows % kStep == 0, "StageBf16Tile: threads and tile do not match");
  if (fast) {
    const int row = threadIdx.x / kGroups, column = 8 * (threadIdx.x % kGroups);
    const int valid = column < valid_width ? valid_rows : 0;
    const __nv_bfloat16* src = from + row * from_stride + column;
    uint32_t at = static_cast<uint32_t>(__cvta_generic_to_shared(to + row * stride + column));
#pragma unroll
    for (int k = 0; k < kRows / kStep; ++k) {
      const bool inside = row + k * kStep < valid;
#ifdef LONGSEQ_CUDA_EMULATE
      emulate::CopyToShared(emulate::SharedPointer(at), inside ? src : from, 16, inside);
#else
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(at), "l"(inside ? src : from), "r"(inside ? 16 : 0) : "memory");
#endif
      src += kStep * from_stride;
      at += 2 * kStep * stride;
    }
    return;
  }
  for (int i = threadIdx.x; i < kRows * kWidth; i += kThreads) {
    const int r = i / kWidth, c = i % kWidth;
    to[r * stride + c] = r < valid_rows && c < valid_width ? from[r * from_stride + c] : __float2bfloat16(0.f);
  }
}
// --- One contiguous block from global to shared memory (16-byte aligned, a multiple of 16 bytes). On sm_90 one thread
// issues a single bulk copy (cp.async.bulk, the tensor memory accelerator) whose arrival an mbarrier counts, so the
// other threads issue nothing; before sm_90 every thread takes 16-byte cp.async pieces (waited for with WaitCopies).

// Makes `barrier` (shared) ready for BulkStage: by one thread, before a __syncthreads.
__device__ __forceinline__ void InitBulkBarrier(uint64_t* barrier) {
#if __CUDA_ARCH__ >= 900
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::InitMbarrier(static_cast<uint32_t>(__cvta_generic_to_shared(barrier)));
#else
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(static_cast<uint32_t>(__cvta_generic_to_shared(barrier))) : "memory");
#endif
#endif
}
#if __CUDA_ARCH__ >= 900
// By one thread: the mbarrier at shared address `bar` arrives expecting `bytes` of copies.
__device__ __forceinline__ void ArriveExpecting(uint32_t bar, uint32_t bytes) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::ArriveExpecting(bar, bytes);
#else
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes) : "memory");
#endif
}
// By one thread: `bytes` from global_from to shared address `to` by one bulk copy, counted by the mbarrier at `bar`.
__device__ __forceinline__ void BulkCopy(uint32_t to, const void* global_from, uint32_t bytes, uint32_t bar) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::BulkCopy(to, global_from, bytes, bar);
#else
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
               ::"r"(to), "l"(global_from), "r"(bytes), "r"(bar) : "memory");
#endif
}
#endif
// By every thread of the block.
__device__ __forceinline__ void BulkStage(void* shared_to, const void* global_from, uint32_t bytes, uint64_t* barrier) {
  const uint32_t to = static_cast<uint32_t>(__cvta_generic_to_shared(shared_to));
#if __CUDA_ARCH__ >= 900
  if (threadIdx.x == 0) {
    const uint32_t bar = static_cast<uint32_t>(__cvta_generic_to_shared(barrier));
    ArriveExpecting(bar, bytes);
    BulkCopy(to, global_from, bytes, bar);
  }
#else
  const char* from = static_cast<const char*>(global_from);
  for (uint32_t i = 16 * threadIdx.x; i < bytes; i += 16 * blockDim.x) {
#ifdef LONGSEQ_CUDA_EMULATE
    emulate::CopyToShared(emulate::SharedPointer(to + i), from + i, 16, true);
#else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(to + i), "l"(from + i) : "memory");
#endif
  }
  CommitCopies();
#endif
}
#if __CUDA_ARCH__ >= 900
// By one thread: the box of a 4-d tensor map at coordinates (c0, c1, c2, c3), innermost first, into shared address
// `to`, counted by the mbarrier at shared address `bar`.
__device__ __forceinline__ void CopyTile(uint32_t to, const CUtensorMap* map, int c0, int c1, int c2, int c3, uint32_t bar) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::CopyTile(to, map, c0, c1, c2, c3, bar);
#else
  asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], [%6];"
               ::"r"(to), "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar) : "memory");
#endif
}
// By the thread that initialized mbarriers, before the barrier that publishes them: their initialization made visible
// to the tensor memory accelerator's arrivals.
__device__ __forceinline__ void FenceBarrierInit() {
  LS_ORDERING_PTX("fence.mbarrier_init.release.cluster;" ::: "memory");
}
// By every thread: the `count` mbarriers from `barrier` (shared) initialized by thread 0 and published to the block and
// to the tensor memory accelerator's arrivals, before any thread waits on them; the first one's shared address (the
// others follow 8 bytes apart).
__device__ __forceinline__ uint32_t ReadyBulkBarriers(uint64_t* barrier, int count = 1) {
  if (threadIdx.x == 0) {
    for (int i = 0; i < count; ++i) InitBulkBarrier(barrier + i);
    FenceBarrierInit();
  }
  __syncthreads();
  return static_cast<uint32_t>(__cvta_generic_to_shared(barrier));
}
// BulkStage (by every thread, sm_90 only) plus two tiles of 4-d tensor maps at the same coordinates (innermost
// first), tile[i] from *map[i] into tile_to[i], tile_bytes each (zeros where the box leaves the tensor): one mbarrier
// counts all three copies.
__device__ __forceinline__ void BulkStageWithTiles(void* shared_to, const void* global_from, uint32_t bytes,
                                                   const CUtensorMap* const (&map)[2], void* const (&tile_to)[2],
                                                   uint32_t tile_bytes, int c0, int c1, int c2, int c3, uint64_t* barrier) {
  if (threadIdx.x == 0) {
    const uint32_t bar = static_cast<uint32_t>(__cvta_generic_to_shared(barrier));
    ArriveExpecting(bar, bytes + 2 * tile_bytes);
    BulkCopy(static_cast<uint32_t>(__cvta_generic_to_shared(shared_to)), global_from, bytes, bar);
#pragma unroll
    for (int i = 0; i < 2; ++i) CopyTile(static_cast<uint32_t>(__cvta_generic_to_shared(tile_to[i])), map[i], c0, c1, c2, c3, bar);
  }
}
#endif
// Waits (every thread) for the BulkStage on `barrier` whose count of earlier stages on it has this parity.
__device__ __forceinline__ void WaitBulkStage(uint64_t* barrier, uint32_t parity) {
#if __CUDA_ARCH__ >= 900
  const uint32_t bar = static_cast<uint32_t>(__cvta_generic_to_shared(barrier));
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::WaitMbarrier(bar, parity);
#else
  asm volatile(
      "{\n"
      ".reg .pred landed;\n"
      "WAIT_AGAIN:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 landed, [%0], %1;\n"
      "@!landed bra WAIT_AGAIN;\n"
      "}\n" ::"r"(bar), "r"(parity) : "memory");
#endif
#else
  WaitCopies<0>();
#endif
}

// --- Hopper's warpgroup products (wgmma: sm_90a code only, __CUDA_ARCH_FEAT_SM90_ALL). B operands lie in shared
// memory K-major in the 128-byte swizzle: rows of 64 bf16 (128 bytes) whose 16-byte chunk c is stored at chunk
// c ^ (row % 8), 8-row atoms of 1024 bytes, the tile 1024-byte aligned; a k-step of 16 moves the descriptor's start
// 32 bytes along the rows (the hardware applies the swizzle to the addresses it forms). Checked against float64 on
// an H200 by tools/wgmma_check.cu (branch exp/wgmma-check) at m64n16k16 and m64n64k16.

// Byte offset of (row, k < 64) in such a tile.
__host__ __device__ constexpr uint32_t SwizzledOffset(int row, int k) {
  return row * 128 + ((((k * 2) / 16) ^ (row % 8)) * 16) + (k * 2) % 16;
}
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// A shared-memory matrix descriptor: start address, leading byte offset 16 (unused by the swizzled layouts here),
// `stride` bytes between 8-row atoms, swizzle mode `mode` (1: 128 bytes, 2: 64 bytes).
__device__ __forceinline__ uint64_t MatrixDescriptor(uint32_t address, uint32_t stride, uint64_t mode) {
  return static_cast<uint64_t>((address & 0x3FFFF) >> 4) | (uint64_t{1} << 16) | (uint64_t{stride >> 4} << 32) | (mode << 62);
}
// The descriptor of such a tile at shared address `address`: 1024 bytes between 8-row atoms, the 128-byte swizzle.
__device__ __forceinline__ uint64_t SwizzledDescriptor(uint32_t address) { return MatrixDescriptor(address, 1024, 1); }
// The descriptor of an MN-major tile in the 64-byte swizzle at shared address `address` (512-byte aligned): its depth
// in rows of 32 bf16 (64 bytes) whose 16-byte chunk c is stored at chunk c ^ (row / 2 % 4), 8-row atoms of 512 bytes
// (stride byte offset); a k-step of 16 moves the start 1024 bytes. The leading byte offset (between blocks of 32
// columns) is unused at 32 columns.
__device__ __forceinline__ uint64_t RowsDescriptor64(uint32_t address) { return MatrixDescriptor(address, 512, 2); }
// Orders this thread's register writes (accumulators, A fragments) before the warpgroup products that read them.
__device__ __forceinline__ void WgmmaFence() { LS_ORDERING_PTX("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void WgmmaCommit() {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::WgmmaCommit();
#else
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
#endif
}
// Waits until at most kPending committed groups of products are still running.
template <int kPending>
__device__ __forceinline__ void WgmmaWait() {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::WgmmaWait(kPending);
#else
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
#endif
}
// d += A B for a warpgroup's 64 x 32 tile: d[4n + e] is n8 tile n, element e at TileRow(e) / TileColumn(n, e) of
// the warp's 16 rows; A the warp's m16n8k16 A fragment (its 16 rows, 16 depths); B MN-major, [16 depths][32 columns]
// at the descriptor (RowsDescriptor64).
__device__ __forceinline__ void WgmmaN32(float (&d)[16], const uint32_t (&a)[4], uint64_t b) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::Wgmma(d, 4, a, 0, b, true, true);
#else
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, "
      "%14, %15}, {%16, %17, %18, %19}, %20, p, 1, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}
// The accumulator operands of the products below: d[0 .. 8 n) of a float array, read and written.
#define LS_WGMMA_D8(d, i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define LS_WGMMA_D32(d) LS_WGMMA_D8(d, 0), LS_WGMMA_D8(d, 8), LS_WGMMA_D8(d, 16), LS_WGMMA_D8(d, 24)
// d = A B (accumulate 0) or d += A B (accumulate 1) for a warpgroup's 64 x 64 tile, A [64 rows][16 depths] and B
// [64 columns][16 depths] both in shared memory, K-major, at their descriptors; d laid out as WgmmaN32's.
__device__ __forceinline__ void WgmmaN64(float (&d)[32], uint64_t a, uint64_t b, int accumulate) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::Wgmma(d, 8, nullptr, a, b, false, accumulate != 0);
#else
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"
      : LS_WGMMA_D32(d)
      : "l"(a), "l"(b), "r"(accumulate));
#endif
}
// The same for a 64 x 128 tile (B [128 columns][16 depths]).
__device__ __forceinline__ void WgmmaN128(float (&d)[64], uint64_t a, uint64_t b, int accumulate) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::Wgmma(d, 16, nullptr, a, b, false, accumulate != 0);
#else
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
      : LS_WGMMA_D32(d), LS_WGMMA_D8(d, 32), LS_WGMMA_D8(d, 40), LS_WGMMA_D8(d, 48), LS_WGMMA_D8(d, 56)
      : "l"(a), "l"(b), "r"(accumulate));
#endif
}
// d += A B for a 64 x 64 tile, A the warp's m16n8k16 fragment in registers, B in shared memory at a SwizzledDescriptor:
// kMnMajorB, its 16 depths rows of 64 columns (128 bytes, 128-byte swizzled, 8-row atoms 1024 bytes apart: the
// descriptor of the first row, whose leading offset an N of 64 does not use); else K-major, [64 columns][16 depths]
// (rows of 64 depths).
template <bool kMnMajorB>
__device__ __forceinline__ void WgmmaN64RegisterA(float (&d)[32], const uint32_t (&a)[4], uint64_t b) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::Wgmma(d, 8, a, 0, b, kMnMajorB, true);
#else
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36, p, 1, 1, %37;\n}\n"
      : LS_WGMMA_D32(d)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "n"(kMnMajorB ? 1 : 0));
#endif
}
__device__ __forceinline__ void WgmmaN64RowsB(float (&d)[32], const uint32_t (&a)[4], uint64_t b) { WgmmaN64RegisterA<true>(d, a, b); }
__device__ __forceinline__ void WgmmaN64KMajorB(float (&d)[32], const uint32_t (&a)[4], uint64_t b) { WgmmaN64RegisterA<false>(d, a, b); }
#undef LS_WGMMA_D32
#undef LS_WGMMA_D8
// Keeps registers that running products read or write from being reused or read before WgmmaWait says they are done
// (the compiler sees a product's registers used only when it is issued): after the wait, every one of them.
template <int kN>
__device__ __forceinline__ void HoldRegisters(float (&r)[kN]) {
#pragma unroll
  for (int i = 0; i < kN; ++i) LS_ORDERING_PTX("" : "+f"(r[i])::"memory");
}
template <int kN>
__device__ __forceinline__ void HoldRegisters(uint32_t (&r)[kN][4]) {
#pragma unroll
  for (int i = 0; i < kN; ++i) {
#pragma unroll
    for (int q = 0; q < 4; ++q) LS_ORDERING_PTX("" : "+r"(r[i][q])::"memory");
  }
}
#endif
#if __CUDA_ARCH__ >= 900
// By one thread: the box of a 4-d tensor map at coordinates (c0, c1, c2, c3) from shared address `from` to global
// memory (the parts inside the tensor), as one bulk group (CommitBulkStores, WaitBulkStoresRead).
__device__ __forceinline__ void StoreTile(uint32_t from, const CUtensorMap* map, int c0, int c1, int c2, int c3) {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::StoreTile(from, map, c0, c1, c2, c3);
#else
  asm volatile("cp.async.bulk.tensor.4d.global.shared::cta.bulk_group [%0, {%2, %3, %4, %5}], [%1];"
               ::"l"(reinterpret_cast<uint64_t>(map)), "r"(from), "r"(c0), "r"(c1), "r"(c2), "r"(c3) : "memory");
#endif
}
__device__ __forceinline__ void CommitBulkStores() { LS_ORDERING_PTX("cp.async.bulk.commit_group;" ::: "memory"); }
// Waits until the committed stores have read their shared memory.
__device__ __forceinline__ void WaitBulkStoresRead() {
#ifdef LONGSEQ_CUDA_EMULATE
  emulate::WaitBulkStoresRead();
#else
  asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory");
#endif
}
// By each thread that wrote shared memory a bulk store then reads, before the barrier that precedes the store.
__device__ __forceinline__ void FenceSharedForBulk() { LS_ORDERING_PTX("fence.proxy.async.shared::cta;" ::: "memory"); }
// By one thread: the box of a 4-d tensor map at coordinates (c0, c1, c2, c3) brought into L2.
__device__ __forceinline__ void PrefetchTile(const CUtensorMap* map, int c0, int c1, int c2, int c3) {
  LS_ORDERING_PTX("cp.async.bulk.prefetch.tensor.4d.L2.global.tile [%0, {%1, %2, %3, %4}];"
                  ::"l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3) : "memory");
}
#endif

// Whether bf16 rows at `from`, `from_stride` apart, with `valid_width` columns allow StageBf16Tile's 16-byte copies.
__device__ __forceinline__ bool Bf16RowsFit(const __nv_bfloat16* from, int64_t from_stride, int valid_width) {
  return valid_width % 8 == 0 && from_stride % 8 == 0 && reinterpret_cast<uintptr_t>(from) % 16 == 0;
}

}  // namespace cuda
}  // namespace ls

#endif  // LONGSEQ_CUDA_TENSOR_CORE_CUH_
