// The (gated) delta rule on the GPU in the chunked WY / UT-transform form (the CPU's ChunkedHead in
// cpu/delta_rule.cc has the derivation), its matrix products on tensor cores in 3xTF32: each float32 operand is
// split into a TF32 high part and a TF32 remainder, and hi·hi + hi·lo + lo·hi keeps float32 accuracy (~1e-6
// relative) where plain TF32 would lose three decimal digits.
//
// Per segment of the sequence, two kernels:
//  - PrepareKernel, a block per (batch, value head, chunk of 64 tokens), every chunk at once: normalized keys and
//    queries, the cumulative log-decays gamma, A = strictly-lower(beta_t e^(gamma_t - gamma_s) k_t . k_s),
//    T = (I + A)^-1 diag(beta) in blocks of 16 (Invert), the causal P = (scale Q K^T) . e^(gamma_t - gamma_s),
//    Kb = e^gamma K, Qg = scale e^gamma Q and Kg = e^(gamma_last - gamma) K, into a workspace, laid out as the state
//    kernel keeps them.
//  - StateKernel, per (batch, value head, 64, 32, 16 or 8 state columns: as many blocks as fill the GPU), chunk after
//    chunk with the state's K x columns slice in shared memory: V' = T (V - Kb S), O = Qg S + P V',
//    S <- e^gamma_last S + Kg^T V', the next chunk's matrices arriving by bulk copies under the products.
//    (The form before, V' = U - W S with W = T Kb and U = T V made by the prepare kernel, has one product and one
//    barrier less a chunk in the walk, but records a tenth larger (U) and two more products in the prepare kernel:
//    on an H200 it was 5-8% slower at B1 T4096 H16, B1 T65536 H16 and B8 T2048 H16, K=V=128 / 64, and the same at
//    B1 T262144 H8: BENCHMARKS.md.)
// Decays appear only as exp of differences of cumulative log-decays within a chunk (never above 1). The workspace
// holds one segment at a time (kWorkspaceBytes; WgmmaWorkspaceBytes for the warpgroup walks); the state goes from
// segment to segment through the final-state buffer (or a temporary one), each block reading and writing only its own
// slice.
//
// bf16 storage has its own pair, PrepareKernelBf16 and StateKernelBf16, on bf16 tensor cores (mma m16n8k16, operands
// by ldmatrix) with a bf16 workspace, as fla's kernels for bf16 inputs: the products that make the workspace and
// carry the state keep float32 accuracy (exact operands, or operands in two bf16 parts), while P, which feeds only
// the output, is rounded to bf16 once (o within ~3e-3 of the float32 result, the state within ~1e-5; the warpgroup
// walk rounds S for Q and V' for P once too). q and k enter the state kernel as stored (exact), the decays and norms
// that Qg and Kg carry applied to the products' rows. Its workspace takes one of two forms, by the state blocks' width
// (TForm): T itself, as in float32 (v then read from the inputs), or W and U, whose walk is one product and one barrier
// shorter a chunk, for the narrowest blocks; those also have output warps beside their walk warps (OutputWarps). On
// sm_90a, padded key dim 128 walks on Hopper's warpgroup products instead (WgmmaStateKernel, from records in the layout
// those read: WgmmaSet, WgmmaSetFloat), where
// the mma.sync walk would take blocks of 16 columns or more or past kOverlapChunks chunks, there each segment's walk
// beside the next one's prepare kernel (LaunchWgmma): on an H100, B1 T4096 / T65536 H16 and T262144 H8 K=V=128 in bf16
// 0.222 / 3.25 / 9.10 ms -> 0.177 / 2.30 / 8.6, in float32 (its operands in two bf16 parts: about 1e-5 relative
// instead of 3xTF32's 1e-6) 0.369 / 5.73 / 14.3 -> 0.294 / 3.46 / 12.0 (BENCHMARKS.md, 2026-12-06). Past
// kOverlapChunks, where the heads' blocks would leave SMs idle, up to kMaxWalkSegments segments walk at once
// (WalkSegments, LaunchWgmmaParallel): on an H100 in bf16, B1 T65536 H16 2.45 -> 1.88 ms, T262144 H8 9.19 -> 4.41
// (with bf16 products 1.67 -> 1.61 and 6.13 -> 3.51); float32 (its record made by WgmmaPrepareKernelFloat) on an H200
// 3.35 -> 2.54 and 7.1 (in two) -> 5.7 (in three; ParallelSegments).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <type_traits>

#ifdef LONGSEQ_CUDA_EMULATE  // the kernels alone, on the CPU (cuda/emulate.h; not the sm_90 paths)
#include "longseq/longseq.h"
#else
#include "cuda/common.cuh"
#include "cuda/delta_rule_chunked.h"
#endif
#include "cuda/tensor_core.cuh"

namespace ls {
namespace cuda {
namespace {

constexpr int kC = 64;          // tokens per chunk
constexpr int kMaxPadded = 128;  // key_dim rounded up to 16
constexpr int kThreads = 256;    // PrepareKernel's 8 warps
constexpr int kColumnPad = 32;   // the value dim is padded to a multiple of this (U's rows)
constexpr int kValueBlock = 64;  // value columns of U formed at once in PrepareKernelBf16
constexpr int64_t kWorkspaceBytes = int64_t{256} << 20;

// T: the storage of q, k, v and o (float, or bf16 widened when staged); beta and g are float.
template <typename T>
struct ChunkArgs {
  int64_t batch, seqlen, heads, value_heads;
  int K, V, Kp, Vp;  // key and value dims, and padded to 16 and kColumnPad
  const T *q, *k, *v;
  const float *beta, *g;
  T* o;
  float scale;
  bool l2norm;
};

// One segment's chunks, each (batch, value head, chunk) a record at index bh * chunks + chunk.
// Each record's matrices ("set") are laid out as StateKernel keeps them in shared memory, padded rows included
// (FloatSet), so that two bulk copies stage them: Kb, Qg and T, then Kg and P. (Staged by 16-byte cp.async pieces
// instead, 56 per thread and chunk at 8 state columns, the float32 walk was 1.1-1.4x slower on an H200: BENCHMARKS.md.)
struct Workspace {
  float* sets;         // [FloatSet::floats]
  float* decay;        // e^gamma_last
  int64_t chunks;
};
// The same for bf16 storage, read by StateKernelBf16 through ldmatrix: each record's bf16 operands ("set") laid out
// as StateKernelBf16 keeps them in shared memory, padded rows included, so that one bulk copy stages them (SetLayout).
// On sm_90 the record may stop before q and k (kMostTileReaders): the state kernel then copies their tiles from the
// inputs by tensor maps (QkTiles), whose boxes land in the same padded rows. The prepare kernel's writes of q and k
// had cost most of the difference: on an H200 in bf16, with those writes simply dropped (a timing-only build),
// B1 T4096 H16 K=V=128 took 0.204 ms instead of 0.224 and B8 T2048 H16 K=V=64 0.327 instead of 0.375; with the tiles,
// 0.220 and 0.337 (BENCHMARKS.md). (Copying q and k from the inputs by 128 bulk copies of a row each per chunk had
// made the state kernel 37% slower at B1 T65536 H16 K=V=128.)
struct WorkspaceBf16 {
  __nv_bfloat16* sets;  // [record]
  float* U;             // [kC][Vp] (W/U form)
  float* decay;         // e^gamma_last
  int64_t chunks;
  int record;       // bf16 elements per record: SetLayout::elements(), or SetLayout::at(kQ) without q and k
  bool qk_in_set;   // whether the records hold q and k (else QkTiles)
};
// The tensor maps of q and k ([batch][seqlen][heads][K] bf16) whose boxes are a chunk's rows of one head in
// SetLayout's padded rows (zeros past K and past the sequence), where WorkspaceBf16::qk_in_set is false.
struct QkTiles {
  CUtensorMap q, k;
};
// The most state blocks that may read one q or k tile (else the records hold q and k). Measured on an H200 in bf16:
// with 1 reader (B8 T2048 H16 K=V=64) 0.378 -> 0.338 ms and 8 (B1 T65536 H16 K=V=128, 16-column blocks) 3.48 -> 3.33,
// but with 16 (B1 T262144 H8 K=V=128, 8-column blocks) 8.34 -> 10.14 (BENCHMARKS.md).
constexpr int kMostTileReaders = 8;

// Row strides in shared memory, chosen so that the fragment loads below hit 32 distinct banks: a row-major A
// operand (and a B operand read as columns of a row-major matrix) wants a stride of 4 or 20 mod 32, a row-major B
// operand and a transposed A operand 8 or 24.
__host__ __device__ constexpr int RowStride(int Kp) { return Kp + 4; }
__host__ __device__ constexpr int ColumnStride(int Kp) { return Kp + 8; }
constexpr int kAStride = kC + 4;     // A and P
constexpr int kTStride = kC + 8;     // (I + A)^-1: 8 mod 32 keeps Invert's accesses to distinct banks
// A chunk's float32 set: Kb [kC][RowStride], Qg [kC][RowStride], T [kC][kAStride] (the first bulk copy), then
// Kg [kC][ColumnStride], P [kC][kAStride] (the second).
struct FloatSet {
  int Kp;
  __host__ __device__ constexpr explicit FloatSet(int kp) : Kp(kp) {}
  __host__ __device__ constexpr int q() const { return kC * RowStride(Kp); }
  __host__ __device__ constexpr int t() const { return 2 * kC * RowStride(Kp); }
  __host__ __device__ constexpr int k() const { return t() + kC * kAStride; }
  __host__ __device__ constexpr int p() const { return k() + kC * ColumnStride(Kp); }
  __host__ __device__ constexpr int floats() const { return p() + kC * kAStride; }
};
// bf16 rows in PrepareKernelBf16 (T's parts and v's blocks, kC = kValueBlock wide): 16 bytes past a multiple of
// 128, so the 8 rows an ldmatrix reads fall on distinct banks; and its staged width of q and k, a power of two.
constexpr int kTb = kC + 8;
static_assert(kValueBlock == kC, "PrepareKernelBf16 stages v's blocks in rows of kTb");
__host__ __device__ constexpr int StagedWidth(int Kp) { return Kp <= 16 ? 16 : Kp <= 32 ? 32 : Kp <= 64 ? 64 : 128; }
// A chunk's bf16 set in StateKernelBf16, in one of two forms (TForm). The W/U form: W in two parts (hi + lo, for the
// state's float32 accuracy, [kC][row] each), then the causal P rounded once ([kC][kTb], it feeds only the output), the
// tokens' row factors in float32 (kFactors, [2][kC]: e^gamma rq for the products with q, e^(gamma_last - gamma) rk for
// K^T V'), then q and k as stored ([kC][row] each, zero past key_dim); U goes beside the sets, in float32. The T form:
// T = (I + A)^-1 diag(beta) in two parts ([kC][kTb] each) where W was, a third row of factors (e^gamma rk, for K S),
// and no U: the state kernel reads v from the inputs.
struct SetLayout {
  enum Part { kWh = 0, kTh = 0, kWl = 1, kTl = 1, kP, kFactors, kQ, kK };
  int row;          // bf16 row stride of the [kC][Kp] matrices: 16 bytes past a multiple of 128 (distinct banks for
                    // ldmatrix)
  int first;        // ... and of the two parts of W (row) or of T (kTb)
  int factor_rows;  // 2 or 3
  __host__ __device__ constexpr SetLayout(int Kp, bool t_form)
      : row(StagedWidth(Kp) + 8), first(t_form ? kTb : StagedWidth(Kp) + 8), factor_rows(t_form ? 3 : 2) {}
  __host__ __device__ constexpr int at(Part part) const {
    return part <= kWl ? part * kC * first
         : part == kP  ? 2 * kC * first
         : part == kFactors ? 2 * kC * first + kC * kTb
                            : 2 * kC * first + kC * kTb + 2 * factor_rows * kC + (part - kQ) * kC * row;
  }
  __host__ __device__ constexpr int elements() const { return at(kK) + kC * row; }
};
// The record of the walk on warpgroup products (WgmmaStateKernel; T form, key dim 128): T's two parts and P as 64 x 64
// tiles in the 128-byte swizzle (SwizzledOffset: wgmma's B operand, K-major, as one bulk copy lands them), then the
// tokens' three rows of factors; q, k and v come from the inputs by tensor maps.
struct WgmmaSet {
  static constexpr int kTh = 0, kTl = kC * kC, kP = 2 * kC * kC, kFactors = 3 * kC * kC, kElements = 3 * kC * kC + 2 * 3 * kC;
};
// The record of the float32 walk on warpgroup products (WgmmaStateKernel<float>, key dim 128): the normalized keys,
// the normalized queries times the scale (two 64-key tiles each), T and P, each in two bf16 parts (hi + lo, so that
// the products hi·hi + hi·lo + lo·hi keep about 1e-5 of float32's accuracy), as 64 x 64 tiles in the 128-byte swizzle,
// then the tokens' three rows of factors (e^gamma, e^(gamma_last - gamma), e^gamma: the norms are in q and k); v comes
// from the inputs by a tensor map. Indices in bf16 elements.
struct WgmmaSetFloat {
  static constexpr int kTile = kC * kC;
  static constexpr int kKh = 0, kKl = 2 * kTile, kQh = 4 * kTile, kQl = 6 * kTile, kTh = 8 * kTile, kTl = 9 * kTile,
                       kPh = 10 * kTile, kPl = 11 * kTile, kFactors = 12 * kTile, kElements = 12 * kTile + 2 * 3 * kC;
};
// The warpgroup walk's record for storage T, in bf16 elements.
template <typename T>
constexpr int WgmmaRecordElements() { return sizeof(T) == 4 ? WgmmaSetFloat::kElements : WgmmaSet::kElements; }
// The T form where a state block has 16 or more columns: its walk has one product and one barrier more a chunk
// (V' = T (V - e^gamma rk K S) instead of U - W S), for records under half the size (no W's parts, no U in float32)
// and a prepare kernel without the two products that make W and U. On an H200 (BENCHMARKS.md) that took B8 T2048 H16
// K=V=64 from 0.340 to 0.306 ms and B1 T65536 H16 K=V=128 from 3.34 to 3.24; at 8 columns (4 warps a block, B1
// T262144 H8) the longer chain is all a block does: 8.5 ms became 9.4.
__host__ __device__ constexpr bool TForm(int columns) { return columns >= 16; }
// S and V' for blocks of kCols state columns: 8 or 24 mod 32.
__host__ __device__ constexpr int SStride(int kCols) { return kCols == 8 ? 24 : kCols + 8; }
// bf16 rows of the state slice and of V' in StateKernelBf16 (16 columns read at least): 16 bytes past a multiple of 32.
__host__ __device__ constexpr int SStrideBf16(int kCols) { return kCols <= 32 ? 40 : kCols + 8; }
// StateKernel's threads for blocks of kCols columns: a warp per 16 x 8 tile of V' and O (64 tokens x kCols) up to 32
// columns; for 64 a warp per 16 x 16 tile (512 threads: 1024 would leave each thread 64 registers).
__host__ __device__ constexpr int StateThreads(int kCols) { return kCols <= 32 ? 16 * kCols : 8 * kCols; }
// StateKernelBf16's walk warps: the same up to 32 columns; for 64 a warp per 16 x 16 tile (512 threads, which leaves
// each thread the 128 registers it needs).
__host__ __device__ constexpr int StateWalkThreadsBf16(int kCols) { return kCols <= 32 ? 16 * kCols : 8 * kCols; }
// Where StateKernelBf16 has output warps beside its walk warps, as many: they form O = e^gamma rq Q S + P V' while the
// walk warps go on to the state's update, so that the walk's chain between two chunks carries only R, V' and S. On an
// H200 (BENCHMARKS.md) that took B1 T262144 H8 K=V=128 (8-column blocks: 4 walk warps, one a scheduler) from 8.52 to
// 8.22 ms, but made the 16-column blocks of B1 T4096 / T65536 H16 (8 walk warps, whose walk is bound by shared-memory
// traffic) 4% slower; wider blocks would leave a thread too few registers.
__host__ __device__ constexpr bool OutputWarps(int kCols) { return kCols == 8; }
__host__ __device__ constexpr int StateThreadsBf16(int kCols) { return StateWalkThreadsBf16(kCols) * (OutputWarps(kCols) ? 2 : 1); }

// k, q (later the inversion's sums), A, T and two vectors.
size_t PrepareShared(int Kp) {
  return sizeof(float) * (2 * kC * RowStride(Kp) + kC * kAStride + kC * kTStride + 2 * kC);
}
static_assert(kC * RowStride(16) >= 3 * 16 * 16, "PrepareKernel: the inversion's sums take q's place");

// A (later v's blocks), T, four vectors, k, and q (later T's two bf16 parts).
size_t PrepareSharedBf16(int Kp) {
  const int staged = kC * (StagedWidth(Kp) + 8);
  return sizeof(float) * (kC * kAStride + kC * kTStride + 4 * kC) + sizeof(__nv_bfloat16) * (staged + std::max(staged, 2 * kC * kTb));
}
static_assert(kC * kTb * 2 <= kC * kAStride * 4, "PrepareKernelBf16 stages v's blocks where A was");

// StateKernelBf16's chunk sets in shared memory, as compiled for the device (and as the host reads it for the current one).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
constexpr int kStagesBf16 = 2;
#else
constexpr int kStagesBf16 = 1;
#endif
#ifdef LONGSEQ_CUDA_EMULATE
int StagesBf16() { return kStagesBf16; }
#else
int StagesBf16() { return ComputeCapabilityMajor() >= 9 ? 2 : 1; }
#endif
// Its sets, the parts of the state slice, of V', of the scaled V' and (T form) of R, and the sets' mbarriers.
size_t StateSharedBf16(int Kp, int columns) {
  const int stages = StagesBf16(), matrices = TForm(columns) ? 3 : 2;
  return sizeof(__nv_bfloat16) * (stages * SetLayout(Kp, TForm(columns)).elements() + 2 * (Kp + matrices * kC) * SStrideBf16(columns)) +
         stages * sizeof(uint64_t);
}

// Its set, V', R = V - Kb S (V' = T R) and the state's slice, and the two copies' mbarriers.
size_t StateShared(int Kp, int columns) {
  return sizeof(float) * (FloatSet(Kp).floats() + (2 * kC + Kp) * SStride(columns)) + 2 * sizeof(uint64_t);
}

// The kernels' shared memory for storage T (float32 or bf16).
template <typename T>
size_t PrepareSharedFor(int Kp) { return sizeof(T) == 2 ? PrepareSharedBf16(Kp) : PrepareShared(Kp); }
// The warpgroup walk's prepare kernel (WgmmaPrepareKernel); in bf16 the swizzled form, with T where k and q were.
constexpr size_t kPrepareSharedSwizzled =
    sizeof(float) * (kC * kAStride + 4 * kC) + sizeof(__nv_bfloat16) * 2 * kC * (StagedWidth(128) + 8);
// In float32 (WgmmaPrepareKernelFloat) k and q, then their parts, then A, T and the inversion's sums where they were; and
// two vectors: 68 KB, three blocks an SM.
constexpr size_t kPrepareSharedFloat = sizeof(float) * (2 * kC * RowStride(128) + 2 * kC);
static_assert(kC * kAStride + kC * kTStride + 3 * 16 * 16 <= 2 * kC * RowStride(128), "WgmmaPrepareKernelFloat: A, T and the sums fit where k and q were");
template <typename T>
size_t WgmmaPrepareShared() { return sizeof(T) == 2 ? kPrepareSharedSwizzled : kPrepareSharedFloat; }
template <typename T>
size_t StateSharedFor(int Kp, int columns) { return sizeof(T) == 2 ? StateSharedBf16(Kp, columns) : StateShared(Kp, columns); }

#ifndef LONGSEQ_CUDA_EMULATE
// Whether the prepare kernel and a state block of `columns` for storage T fit this device's shared memory (all of
// them on sm_90; devices with less take narrower blocks, or the recurrence).
template <typename T>
bool Fits(int Kp, int columns) {
  const size_t limit = static_cast<size_t>(SharedMemoryOptIn());
  return PrepareSharedFor<T>(Kp) <= limit && StateSharedFor<T>(Kp, columns) <= limit;
}
#endif

__device__ __forceinline__ float ExpOf(float x) { return Exp2(x * kLog2e); }

// T = (I + A)^-1 diag(beta) for the strictly lower triangular A, by kThreads threads, in blocks of 16: the four
// diagonal blocks X_ii = (I + A_ii)^-1 by forward substitution (a column of a block per thread, in registers), then
// the blocks below them a diagonal at a time, X_ij = -X_ii sum_k A_ik X_kj over k = j .. i - 1 (`scratch`: 3 x 16
// x 16 floats for the sums, 16-byte aligned). The chain of dependent steps is 16 + 3 long instead of the 64 of plain
// substitution. In the block products each thread forms four adjacent columns of a row, so that one scalar and one
// 16-byte load feed four FMAs (a scalar loop took two loads per FMA, and the loads bounded it).
__device__ __forceinline__ void Invert(const float* As, float* Ts, const float* beta, float* scratch) {
  constexpr int kB = 16, kBlocks = kC / kB, kQuads = kB / 4;
  if (threadIdx.x < kBlocks * kB) {
    const int i = threadIdx.x / kB, c = threadIdx.x % kB;
    const float* a = As + i * kB * (kAStride + 1);
    float x[kB];
#pragma unroll
    for (int t = 0; t < kB; ++t) {
      float sum = t == c ? 1.f : 0.f;
#pragma unroll
      for (int s = 0; s < t; ++s) sum = fmaf(-a[t * kAStride + s], x[s], sum);
      x[t] = sum;
    }
#pragma unroll
    for (int t = 0; t < kB; ++t) Ts[(i * kB + t) * kTStride + i * kB + c] = x[t];
  }
  __syncthreads();
  const auto fma4 = [](float a, const float4& b, float4& sum) {
    sum.x = fmaf(a, b.x, sum.x), sum.y = fmaf(a, b.y, sum.y), sum.z = fmaf(a, b.z, sum.z), sum.w = fmaf(a, b.w, sum.w);
  };
  for (int d = 1; d < kBlocks; ++d) {  // blocks (j + d, j): quad q is block j's row r, columns 4 c4 ..
    const int quads = (kBlocks - d) * kB * kQuads;
    const int q = threadIdx.x, j = q / (kB * kQuads), r = q / kQuads % kB, c = q % kQuads * 4, row = (j + d) * kB + r;
    static_assert(kBlocks * kB * kQuads <= kThreads, "Invert: a quad per thread");
    if (q < quads) {
      float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
      for (int k = j * kB; k < (j + d) * kB; ++k) fma4(As[row * kAStride + k], *reinterpret_cast<const float4*>(Ts + k * kTStride + j * kB + c), sum);
      *reinterpret_cast<float4*>(scratch + (j * kB + r) * kB + c) = sum;
    }
    __syncthreads();
    if (q < quads) {
      float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
      for (int m = 0; m < kB; ++m) fma4(Ts[row * kTStride + (j + d) * kB + m], *reinterpret_cast<const float4*>(scratch + (j * kB + m) * kB + c), sum);
      *reinterpret_cast<float4*>(Ts + row * kTStride + j * kB + c) = make_float4(-sum.x, -sum.y, -sum.z, -sum.w);
    }
    __syncthreads();
  }
  for (int e = threadIdx.x; e < kC * kC / 4; e += kThreads) {  // the columns times beta, zeros above the diagonal blocks
    const int t = e / (kC / 4), c = e % (kC / 4) * 4;
    float4& x = *reinterpret_cast<float4*>(Ts + t * kTStride + c);
    const float4 b = *reinterpret_cast<const float4*>(beta + c);
    x = c / kB > t / kB ? make_float4(0.f, 0.f, 0.f, 0.f) : make_float4(x.x * b.x, x.y * b.y, x.z * b.z, x.w * b.w);
  }
}

// The chunk a prepare block takes: blockIdx.x = bh * chunks + chunk (its record), the segment starting at chunk
// `first_chunk` of the sequence. t0, its first token, is past the sequence's end in a segment-parallel walk's last
// segment, in its last rounds (the block then has nothing to do); n is its tokens, and token t's q and k rows start
// at row0 + t H K.
struct PreparedChunk {
  int64_t b, hv, t0, row0;
  int n;
};
template <typename T>
__device__ __forceinline__ PreparedChunk ChunkOfBlock(const ChunkArgs<T>& a, int64_t chunks, int64_t first_chunk) {
  const int64_t bh = blockIdx.x / chunks, b = bh / a.value_heads, hv = bh % a.value_heads, h = hv / (a.value_heads / a.heads);
  const int64_t t0 = (first_chunk + blockIdx.x % chunks) * kC;
  return {b, hv, t0, ((b * a.seqlen + t0) * a.heads + h) * a.K, static_cast<int>(min(static_cast<int64_t>(kC), a.seqlen - t0))};
}

// beta and g of the chunk's tokens into beta and gamma (threads < kC), zeros past the sequence's end: the padding
// adds nothing, so gamma stays at the last token's.
template <typename T>
__device__ __forceinline__ void LoadGates(const ChunkArgs<T>& a, const PreparedChunk& c, float* beta, float* gamma) {
  if (threadIdx.x < kC) {
    const int t = threadIdx.x;
    const int64_t at = (c.b * a.seqlen + c.t0 + t) * a.value_heads + c.hv;
    beta[t] = t < c.n ? a.beta[at] : 0.f;
    gamma[t] = t < c.n && a.g ? a.g[at] : 0.f;
  }
}

// gamma <- its cumulative sum, by one warp (two tokens per lane).
__device__ __forceinline__ void CumulativeSum(float* gamma) {
  const int lane = threadIdx.x % 32;
  const float x0 = gamma[2 * lane], x1 = gamma[2 * lane + 1];
  float sum = x0 + x1;
#pragma unroll
  for (int offset = 1; offset < 32; offset <<= 1) {
    const float up = __shfl_up_sync(0xffffffffu, sum, offset);
    if (lane >= offset) sum += up;
  }
  gamma[2 * lane] = sum - x1, gamma[2 * lane + 1] = sum;
}

// The mma.sync walks' float32 record (FloatSet) of the chunk ChunkOfBlock gives, in 3xTF32 products.
__global__ void __launch_bounds__(kThreads, 2) PrepareKernel(const ChunkArgs<float> a, const Workspace w, int64_t first_chunk) {
  LS_SHARED(float, shared);
  const int Kp = a.Kp, K = a.K, rs = RowStride(Kp), cs = ColumnStride(Kp);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* ks = shared;                                  // [kC][rs] normalized keys
  float* qs = ks + kC * rs;                            // [kC][rs] normalized queries times scale, then Invert's sums
  float* As = qs + kC * rs;                            // [kC][kAStride] A
  float* Ts = As + kC * kAStride;                      // [kC][kTStride] (I + A)^-1
  float* gamma = Ts + kC * kTStride;                   // [kC]
  float* beta = gamma + kC;                            // [kC]
  const PreparedChunk c = ChunkOfBlock(a, w.chunks, first_chunk);
  if (c.t0 >= a.seqlen) return;
  const int64_t record = blockIdx.x;

  // The chunk's rows of q and k, the copies in flight all at once, the padding zero-filled.
  StageRows(qs, rs, a.q + c.row0, a.heads * K, kC, c.n, Kp, K);
  StageRows(ks, rs, a.k + c.row0, a.heads * K, kC, c.n, Kp, K);
  CommitCopies();
  LoadGates(a, c, beta, gamma);
  WaitCopies<0>();
  __syncthreads();
  if (warp == 0) CumulativeSum(gamma);
  for (int t = warp; t < c.n; t += kThreads / 32) {  // a warp per token: the L2 normalization and the scale
    float rq = a.scale, rk = 1.f;  // without the normalization only the scale (a uniform branch)
    if (a.l2norm) {
      float qq = 0.f, kk = 0.f;
      for (int i = lane; i < Kp; i += 32) qq = fmaf(qs[t * rs + i], qs[t * rs + i], qq), kk = fmaf(ks[t * rs + i], ks[t * rs + i], kk);
#pragma unroll
      for (int offset = 16; offset > 0; offset >>= 1) {
        qq += __shfl_xor_sync(0xffffffffu, qq, offset), kk += __shfl_xor_sync(0xffffffffu, kk, offset);
      }
      rq *= rsqrtf(qq + 1e-6f), rk = rsqrtf(kk + 1e-6f);
    }
    for (int i = lane; i < Kp; i += 32) qs[t * rs + i] *= rq, ks[t * rs + i] *= rk;
  }
  __syncthreads();

  // K K^T into A and Q K^T into P: 4 x 4 tiles of 16 x 16, two per warp; the tiles above the diagonal are zero.
  const float last = gamma[kC - 1];
  const FloatSet layout(Kp);
  float* const set = w.sets + record * int64_t{layout.floats()};
  float* const P = set + layout.p();
  for (int unit = warp; unit < 16; unit += kThreads / 32) {
    const int r0 = unit / 4 * 16, c0 = unit % 4 * 16;
    float products[2][2][4] = {};
    if (c0 <= r0) {
      const float* const rows[2] = {ks + r0 * rs, qs + r0 * rs};
      WarpProducts<2, 2>(products, rows, rs, 1, ks + c0 * rs, 1, rs, Kp);
    }
    const float (&gk)[2][4] = products[0], (&qk)[2][4] = products[1];
#pragma unroll
    for (int m = 0; m < 2; ++m) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int t = r0 + TileRow(e), s = c0 + TileColumn(m, e);
        const float decay = s <= t ? ExpOf(gamma[t] - gamma[s]) : 0.f;
        As[t * kAStride + s] = s < t ? beta[t] * decay * gk[m][e] : 0.f;
        P[t * kAStride + s] = decay * qk[m][e];
      }
    }
  }
  float* Qg = set + layout.q();
  float* Kg = set + layout.k();
  for (int t = warp; t < kC; t += kThreads / 32) {
    const float to_query = ExpOf(gamma[t]), to_last = ExpOf(last - gamma[t]);
    for (int i = lane; i < Kp; i += 32) {
      Qg[t * rs + i] = to_query * qs[t * rs + i];
      Kg[t * cs + i] = to_last * ks[t * rs + i];
    }
  }
  if (threadIdx.x == 0) w.decay[record] = ExpOf(last);
  __syncthreads();

  Invert(As, Ts, beta, qs);  // the queries are done: their space takes the inversion's sums
  __syncthreads();
  float* Kb = set;
  for (int t = warp; t < kC; t += kThreads / 32) {
    const float factor = ExpOf(gamma[t]);
    for (int i = lane; i < Kp; i += 32) Kb[t * rs + i] = factor * ks[t * rs + i];
  }
  float* Tw = set + layout.t();
  for (int e = threadIdx.x; e < kC * kC / 4; e += kThreads) {  // T, four adjacent elements a thread
    const int t = e / (kC / 4), c = e % (kC / 4) * 4;
    *reinterpret_cast<float4*>(Tw + t * kAStride + c) = *reinterpret_cast<const float4*>(Ts + t * kTStride + c);
  }
}

// The float32 record of the warpgroup walk (WgmmaSetFloat; key dim 128 padded), blockIdx.x as PrepareKernel's, in
// kPrepareSharedFloat bytes of shared memory. Each warp takes whole rows of the staged q and k: their norms, then the
// normalized rows in two bf16 parts, written over the row's own floats (hi in its first 256 bytes, lo in the next)
// and into the record. K K^T and Q K^T are then bf16 products of those parts (hi·hi + hi·lo + lo·hi, operands by
// ldmatrix), as the walk's own products. (PrepareKernel's 3xTF32 products, splitting each operand at each use, and
// its element-by-element record writes had made this kernel 50K instructions a chunk at two instructions a cycle:
// on an H100 it bounded float32 in segments, 1.75 ms of B1 T65536 H16's 3.6 alone, against bf16's 0.6;
// BENCHMARKS.md.)
__global__ void __launch_bounds__(kThreads, 3) WgmmaPrepareKernelFloat(const ChunkArgs<float> a, const WorkspaceBf16 w,
                                                                       int64_t first_chunk) {
  using bf16 = __nv_bfloat16;
  constexpr int rs = RowStride(128), kParts = 2 * rs;  // bf16 elements between rows of the parts: lo at +128
  LS_SHARED(float, shared);
  const int K = a.K;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* ks = shared;                  // [kC][rs] k as read, then its parts
  float* qs = ks + kC * rs;            // [kC][rs] q as read, then its parts (normalized, times the scale)
  float* As = shared;                  // [kC][kAStride] A, once the products are done with the parts
  float* Ts = As + kC * kAStride;      // [kC][kTStride] (I + A)^-1
  float* sums = Ts + kC * kTStride;    // the inversion's
  float* gamma = qs + kC * rs;         // [kC]
  float* beta = gamma + kC;            // [kC]
  const bf16* k_parts = reinterpret_cast<const bf16*>(ks);
  const bf16* q_parts = reinterpret_cast<const bf16*>(qs);
  const PreparedChunk c = ChunkOfBlock(a, w.chunks, first_chunk);
  if (c.t0 >= a.seqlen) return;
  const int64_t record = blockIdx.x;

  StageRows(qs, rs, a.q + c.row0, a.heads * K, kC, c.n, 128, K);
  StageRows(ks, rs, a.k + c.row0, a.heads * K, kC, c.n, 128, K);
  CommitCopies();
  LoadGates(a, c, beta, gamma);
  WaitCopies<0>();
  __syncthreads();
  if (warp == 0) CumulativeSum(gamma);
  bf16* const set = w.sets + record * int64_t{w.record};
  // Keys 4 lane .. 4 lane + 3 of row t: in the record's 64-key tile lane / 16, at 8 bytes of a swizzled 16-byte chunk.
  const int tile_key = 4 * lane % 64;
  const int tile_at = lane / 16 * WgmmaSetFloat::kTile;
  for (int t = warp; t < kC; t += kThreads / 32) {  // a warp per token (rows past n are zeros)
    float4 q = *reinterpret_cast<const float4*>(qs + t * rs + 4 * lane), k = *reinterpret_cast<const float4*>(ks + t * rs + 4 * lane);
    float rq = a.scale, rk = 1.f;  // without the normalization only the scale (a uniform branch)
    if (a.l2norm) {
      float qq = q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w, kk = k.x * k.x + k.y * k.y + k.z * k.z + k.w * k.w;
#pragma unroll
      for (int offset = 16; offset > 0; offset >>= 1) {
        qq += __shfl_xor_sync(0xffffffffu, qq, offset), kk += __shfl_xor_sync(0xffffffffu, kk, offset);
      }
      rq *= rsqrtf(qq + 1e-6f), rk = rsqrtf(kk + 1e-6f);
    }
    uint2 qh, ql, kh, kl;
    SplitBf16(rq * q.x, rq * q.y, qh.x, ql.x), SplitBf16(rq * q.z, rq * q.w, qh.y, ql.y);
    SplitBf16(rk * k.x, rk * k.y, kh.x, kl.x), SplitBf16(rk * k.z, rk * k.w, kh.y, kl.y);
    __syncwarp();  // the row's floats are all read before its parts go over them
    bf16* const q_row = reinterpret_cast<bf16*>(qs + t * rs) + 4 * lane;
    bf16* const k_row = reinterpret_cast<bf16*>(ks + t * rs) + 4 * lane;
    *reinterpret_cast<uint2*>(q_row) = qh, *reinterpret_cast<uint2*>(q_row + 128) = ql;
    *reinterpret_cast<uint2*>(k_row) = kh, *reinterpret_cast<uint2*>(k_row + 128) = kl;
    const int at = tile_at + static_cast<int>(SwizzledOffset(t, tile_key) / 2);
    *reinterpret_cast<uint2*>(set + WgmmaSetFloat::kQh + at) = qh, *reinterpret_cast<uint2*>(set + WgmmaSetFloat::kQl + at) = ql;
    *reinterpret_cast<uint2*>(set + WgmmaSetFloat::kKh + at) = kh, *reinterpret_cast<uint2*>(set + WgmmaSetFloat::kKl + at) = kl;
  }
  __syncthreads();

  // K K^T into A and Q K^T into P: 4 x 4 tiles of 16 x 16, two per warp; the tiles above the diagonal are zero.
  const float last = gamma[kC - 1];
  // x0 and x1 at (t, s) and (t, s + 1) of a record's 64 x 64 tile in two parts (hi at `at`, lo at `at` + `lo`).
  const auto split_pair = [set](int at, int lo, int t, int s, float x0, float x1) {
    const int to = at + static_cast<int>(SwizzledOffset(t, s) / 2);
    SplitBf16(x0, x1, *reinterpret_cast<uint32_t*>(set + to), *reinterpret_cast<uint32_t*>(set + to + lo));
  };
  // Each warp's two units (r0 = 16 (warp / 4) and 16 (warp / 4 + 2), c0 = 16 (warp % 4)); A goes where the parts are,
  // once every warp is done with them.
  const int c0 = warp % 4 * 16;
  float kk[2][2][4] = {}, qk[2][2][4] = {};
#pragma unroll
  for (int u = 0; u < 2; ++u) {
    const int r0 = (warp / 4 + 2 * u) * 16;
    if (c0 > r0) continue;
    const int a_at = (r0 + MatrixRow(lane, 1)) * kParts + MatrixColumn(lane, 2), b_at = (c0 + MatrixRow(lane, 2)) * kParts + MatrixColumn(lane, 1);
#pragma unroll 2
    for (int k0 = 0; k0 < 128; k0 += 16) {
      uint32_t kah[4], kal[4], qah[4], qal[4], kbh[4], kbl[4];
      LoadMatrices<false>(kah, k_parts + a_at + k0), LoadMatrices<false>(kal, k_parts + a_at + 128 + k0);
      LoadMatrices<false>(qah, q_parts + a_at + k0), LoadMatrices<false>(qal, q_parts + a_at + 128 + k0);
      LoadMatrices<false>(kbh, k_parts + b_at + k0), LoadMatrices<false>(kbl, k_parts + b_at + 128 + k0);
#pragma unroll
      for (int m = 0; m < 2; ++m) {
        MmaBf16(kk[u][m], kah, kbh[2 * m], kbh[2 * m + 1]), MmaBf16(qk[u][m], qah, kbh[2 * m], kbh[2 * m + 1]);
        MmaBf16(kk[u][m], kah, kbl[2 * m], kbl[2 * m + 1]), MmaBf16(qk[u][m], qah, kbl[2 * m], kbl[2 * m + 1]);
        MmaBf16(kk[u][m], kal, kbh[2 * m], kbh[2 * m + 1]), MmaBf16(qk[u][m], qal, kbh[2 * m], kbh[2 * m + 1]);
      }
    }
  }
  __syncthreads();
#pragma unroll
  for (int u = 0; u < 2; ++u) {
    const int r0 = (warp / 4 + 2 * u) * 16;
#pragma unroll
    for (int m = 0; m < 2; ++m) {
      float pm[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int t = r0 + TileRow(e), s = c0 + TileColumn(m, e);
        const float decay = s <= t ? ExpOf(gamma[t] - gamma[s]) : 0.f;
        As[t * kAStride + s] = s < t ? beta[t] * decay * kk[u][m][e] : 0.f;
        pm[e] = decay * qk[u][m][e];
      }
#pragma unroll
      for (int e = 0; e < 4; e += 2) {  // elements e and e + 1: one row, adjacent columns
        split_pair(WgmmaSetFloat::kPh, WgmmaSetFloat::kPl - WgmmaSetFloat::kPh, r0 + TileRow(e), c0 + TileColumn(m, e), pm[e], pm[e + 1]);
      }
    }
  }
  if (threadIdx.x < kC) {
    const int t = threadIdx.x;
    float* factors = reinterpret_cast<float*>(set + WgmmaSetFloat::kFactors);
    factors[t] = factors[2 * kC + t] = ExpOf(gamma[t]), factors[kC + t] = ExpOf(last - gamma[t]);
  }
  if (threadIdx.x == 0) w.decay[record] = ExpOf(last);
  __syncthreads();

  Invert(As, Ts, beta, sums);
  __syncthreads();
  for (int e = threadIdx.x; e < kC * kC / 4; e += kThreads) {  // T in two parts, four adjacent elements a thread
    const int t = e / (kC / 4), c = e % (kC / 4) * 4;
    const float4 x = *reinterpret_cast<const float4*>(Ts + t * kTStride + c);
    uint2 hi, lo;
    SplitBf16(x.x, x.y, hi.x, lo.x), SplitBf16(x.z, x.w, hi.y, lo.y);
    const int at = static_cast<int>(SwizzledOffset(t, c) / 2);
    *reinterpret_cast<uint2*>(set + WgmmaSetFloat::kTh + at) = hi, *reinterpret_cast<uint2*>(set + WgmmaSetFloat::kTl + at) = lo;
  }
}

// The sum of squares of a half warp's 16 x kPer adjacent bf16 (kPer a power of two up to 8, `at` aligned to kPer
// elements), each lane's kPer read in one access; every lane of the half warp gets the sum.
template <int kPer>
__device__ __forceinline__ float SumOfSquares(const __nv_bfloat16* at) {
  using Raw = std::conditional_t<kPer == 8, uint4, std::conditional_t<kPer == 4, uint2, std::conditional_t<kPer == 2, uint32_t, uint16_t>>>;
  const Raw raw = *reinterpret_cast<const Raw*>(at);
  const __nv_bfloat16* x = reinterpret_cast<const __nv_bfloat16*>(&raw);
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < kPer; ++i) sum = fmaf(__bfloat162float(x[i]), __bfloat162float(x[i]), sum);
#pragma unroll
  for (int offset = 8; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  return sum;
}

// PrepareKernel for bf16 storage: the workspace of StateKernelBf16 in the form kTForm (SetLayout: T in two parts, or
// W in two parts and U; P, q and k as stored and the tokens' row factors), from bf16 tensor-core products
// (mma m16n8k16, ldmatrix) whose operands are exact, so the workspace keeps float32 accuracy. q, k and v enter the
// products as stored: the L2 normalization and the scale scale the products' rows and columns instead
// (A_ts = beta_t e^(gamma_t - gamma_s) rk_t rk_s k_t . k_s with rk the inverse norms). The float32
// T = (I + A)^-1 diag(beta) is stored in two bf16 parts (hi + lo), or (W/U form), with its column factors, enters
// W = T diag(e^gamma rk) K and U = T V split so (two products each).
// kSwizzled (T form, key dim 128): the record as WgmmaSet lays it out, and T where k and q were (the products are done
// with them by then), for four blocks an SM (kPrepareSharedSwizzled) instead of three.
template <int kKp, bool kTForm, bool kSwizzled = false>
__global__ void __launch_bounds__(kThreads, kSwizzled ? 4 : 3)
    PrepareKernelBf16(const ChunkArgs<__nv_bfloat16> a, const WorkspaceBf16 w, int64_t first_chunk) {
  using bf16 = __nv_bfloat16;
  constexpr int kWidth = StagedWidth(kKp), kS = kWidth + 8, kStageThreads = kC * kWidth / 8 < kThreads ? kC * kWidth / 8 : kThreads;
  static_assert(!kSwizzled || (kKp == 128 && kTForm), "PrepareKernelBf16: the swizzled record is the T form's, key dim 128");
  static_assert(!kSwizzled || (kC * kTStride + 3 * 16 * 16) * 4 <= 2 * kC * kS * 2,
                "PrepareKernelBf16: T and the sums fit where k and q were");
  LS_SHARED(float, shared);
  const int K = a.K;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* As = shared;                                     // [kC][kAStride] A
  float* gamma = As + kC * kAStride + (kSwizzled ? 0 : kC * kTStride);  // [kC] (past T where T has its own place)
  float* beta = gamma + kC;                               // [kC]
  float* rk = beta + kC;                                  // [kC] the keys' inverse norms
  float* rq = rk + kC;                                    // [kC] the queries', times the scale, then (W/U form)
  float* column_scale = rq;                               // [kC] e^gamma rk, W's column factors of T
  bf16* ks = reinterpret_cast<bf16*>(rq + kC);            // [kC][kS] k as stored
  bf16* qs = ks + kC * kS;                                // [kC][kS] q as stored, then the inversion's sums, then (W/U)
  bf16* th = qs;                                          // [kC][kTb] T's factor, high part
  bf16* tl = th + kC * kTb;                               // [kC][kTb] and the rest
  bf16* vs = reinterpret_cast<bf16*>(As);                 // [kC][kTb] W/U form, after the inversion: v's columns
  float* Ts = kSwizzled ? reinterpret_cast<float*>(ks) : As + kC * kAStride;  // [kC][kTStride] (I + A)^-1 diag(beta)
  float* sums = kSwizzled ? Ts + kC * kTStride : reinterpret_cast<float*>(qs);  // the inversion's, once q is done
  const PreparedChunk c = ChunkOfBlock(a, w.chunks, first_chunk);
  if (c.t0 >= a.seqlen) return;
  const int64_t record = blockIdx.x;

  const bf16 *q_rows = a.q + c.row0, *k_rows = a.k + c.row0;
  if (threadIdx.x < kStageThreads) {
    StageBf16Tile<kC, kWidth, kStageThreads>(qs, kS, q_rows, a.heads * K, c.n, K, Bf16RowsFit(q_rows, a.heads * K, K));
    StageBf16Tile<kC, kWidth, kStageThreads>(ks, kS, k_rows, a.heads * K, c.n, K, Bf16RowsFit(k_rows, a.heads * K, K));
  }
  CommitCopies();
  LoadGates(a, c, beta, gamma);
  WaitCopies<0>();
  __syncthreads();
  if (warp == 0) CumulativeSum(gamma);
  // The inverse norms, a half warp per token, each lane summing kWidth / 16 adjacent elements read at once (the
  // staged rows are zero past K). Without the normalization only the scale is left (a uniform branch).
  if (a.l2norm) {
    for (int t = 2 * warp + lane / 16; t < kC; t += 2 * (kThreads / 32)) {
      const float qq = SumOfSquares<kWidth / 16>(qs + t * kS + lane % 16 * (kWidth / 16));
      const float kk = SumOfSquares<kWidth / 16>(ks + t * kS + lane % 16 * (kWidth / 16));
      if (lane % 16 == 0) rq[t] = a.scale * rsqrtf(qq + 1e-6f), rk[t] = rsqrtf(kk + 1e-6f);
    }
  } else {
    for (int t = threadIdx.x; t < kC; t += kThreads) rq[t] = a.scale, rk[t] = 1.f;
  }
  __syncthreads();

  // K K^T into A and Q K^T into P: 4 x 4 tiles of 16 x 16, two per warp; the tiles above the diagonal are zero.
  const float last = gamma[kC - 1];
  constexpr SetLayout kSet(kKp, kTForm);
  bf16* set = w.sets + record * w.record;
  bf16* P = set + (kSwizzled ? WgmmaSet::kP : kSet.at(SetLayout::kP));
  // Element (t, s) of a [kC][kC] matrix of the record (T's parts, P).
  const auto at_ts = [](int t, int s) { return kSwizzled ? static_cast<int>(SwizzledOffset(t, s) / 2) : t * kTb + s; };
  for (int unit = warp; unit < 16; unit += kThreads / 32) {
    const int r0 = unit / 4 * 16, c0 = unit % 4 * 16;
    float kk[2][4] = {}, qk[2][4] = {};
    if (c0 <= r0) {
#pragma unroll
      for (int k0 = 0; k0 < kKp; k0 += 16) {
        uint32_t ka[4], qa[4], kb[4];
        LoadMatrices<false>(ka, ks + (r0 + MatrixRow(lane, 1)) * kS + k0 + MatrixColumn(lane, 2));
        LoadMatrices<false>(qa, qs + (r0 + MatrixRow(lane, 1)) * kS + k0 + MatrixColumn(lane, 2));
        LoadMatrices<false>(kb, ks + (c0 + MatrixRow(lane, 2)) * kS + k0 + MatrixColumn(lane, 1));
        MmaBf16(kk[0], ka, kb[0], kb[1]), MmaBf16(kk[1], ka, kb[2], kb[3]);
        MmaBf16(qk[0], qa, kb[0], kb[1]), MmaBf16(qk[1], qa, kb[2], kb[3]);
      }
    }
    // The thread's four columns' and two rows' factors, read once (the stores to As below may alias them for all
    // the compiler knows), and each row's adjacent pair of results stored together.
    float column_gamma[2][2], column_rk[2][2];
#pragma unroll
    for (int m = 0; m < 2; ++m) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int s = c0 + TileColumn(m, e);
        column_gamma[m][e] = gamma[s], column_rk[m][e] = rk[s];
      }
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int t = r0 + TileRow(2 * half);
      const float row_gamma = gamma[t], row_key = beta[t] * rk[t], row_query = rq[t];
#pragma unroll
      for (int m = 0; m < 2; ++m) {
        const int s = c0 + TileColumn(m, 0);
        float a2[2], p2[2];
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float decay = s + e <= t ? ExpOf(row_gamma - column_gamma[m][e]) * column_rk[m][e] : 0.f;
          a2[e] = s + e < t ? row_key * decay * kk[m][2 * half + e] : 0.f;
          p2[e] = row_query * decay * qk[m][2 * half + e];
        }
        *reinterpret_cast<float2*>(As + t * kAStride + s) = make_float2(a2[0], a2[1]);
        *reinterpret_cast<uint32_t*>(P + at_ts(t, s)) = PackBf16(p2[0], p2[1]);
      }
    }
  }
  if (threadIdx.x < kC) {  // the row factors of the products with q and k in the state kernel
    const int t = threadIdx.x;
    float* factors = reinterpret_cast<float*>(set + (kSwizzled ? WgmmaSet::kFactors : kSet.at(SetLayout::kFactors)));
    const float to_query = ExpOf(gamma[t]);
    factors[t] = to_query * rq[t], factors[kC + t] = ExpOf(last - gamma[t]) * rk[t];
    if constexpr (kTForm) factors[2 * kC + t] = to_query * rk[t];
  }
  for (int e = threadIdx.x; w.qk_in_set && e < 2 * kC * (kWidth / 8); e += kThreads) {  // q and k as staged (zero past K and n)
    const int m = e / (kC * (kWidth / 8)), t = e / (kWidth / 8) % kC, i = 8 * (e % (kWidth / 8));
    *reinterpret_cast<uint4*>(set + kSet.at(m ? SetLayout::kK : SetLayout::kQ) + t * kSet.row + i) =
        *reinterpret_cast<const uint4*>((m ? ks : qs) + t * kS + i);
  }
  if (threadIdx.x == 0) w.decay[record] = ExpOf(last);
  __syncthreads();
  Invert(As, Ts, beta, sums);
  // T (W/U form: with column_scale where `scaled`) in two bf16 parts, rows of kTb at hi and lo, four adjacent elements
  // a thread.
  const auto split = [&](bool scaled, bf16* hi_at, bf16* lo_at, bool record) {
    for (int e = threadIdx.x; e < kC * kC / 4; e += kThreads) {
      const int t = e / (kC / 4), s = e % (kC / 4) * 4;
      float4 x = *reinterpret_cast<const float4*>(Ts + t * kTStride + s);
      if (scaled) {
        const float4 c = *reinterpret_cast<const float4*>(column_scale + s);
        x = make_float4(x.x * c.x, x.y * c.y, x.z * c.z, x.w * c.w);
      }
      uint2 hi, lo;
      SplitBf16(x.x, x.y, hi.x, lo.x), SplitBf16(x.z, x.w, hi.y, lo.y);
      const int at = record ? at_ts(t, s) : t * kTb + s;
      *reinterpret_cast<uint2*>(hi_at + at) = hi, *reinterpret_cast<uint2*>(lo_at + at) = lo;
    }
  };
  if constexpr (kTForm) {  // T into the record
    __syncthreads();
    split(false, set + (kSwizzled ? WgmmaSet::kTh : kSet.at(SetLayout::kTh)),
          set + (kSwizzled ? WgmmaSet::kTl : kSet.at(SetLayout::kTl)), true);
    return;
  }
  const bf16* v0 = a.v + (c.b * a.seqlen + c.t0) * a.value_heads * a.V + c.hv * a.V;
  const auto stage_v = [&](int j0) {
    const int width = min(kValueBlock, a.V - j0);
    StageBf16Tile<kC, kValueBlock, kThreads>(vs, kTb, v0 + j0, a.value_heads * a.V, c.n, width,
                                             Bf16RowsFit(v0 + j0, a.value_heads * a.V, width));
  };
  if (threadIdx.x < kC) column_scale[threadIdx.x] = ExpOf(gamma[threadIdx.x]) * rk[threadIdx.x];
  __syncthreads();
  stage_v(0);  // A is done: its space takes v's first block, arriving under the product with K
  CommitCopies();

  // The row tiles of T B (T's parts split into th and tl; B stored [s][column], kB its row stride) for column tiles c0
  // in [0, columns), column_at + c0 beyond `limit` skipped, each pair of adjacent results to emit(row, column, x0, x1).
  // Row tile r0 needs T's columns up to r0 + 16 only.
  const auto multiply = [&](const bf16* B, int kB, int columns, int column_at, int limit, auto&& emit) {
    for (int unit = warp; unit < 4 * (columns / 16); unit += kThreads / 32) {
      const int r0 = unit % 4 * 16, c0 = unit / 4 * 16;
      if (column_at + c0 >= limit) continue;
      float hi[2][4] = {}, lo[2][4] = {};
      for (int k0 = 0; k0 <= r0; k0 += 16) {
        uint32_t ah[4], al[4], bb[4];
        LoadMatrices<false>(ah, th + (r0 + MatrixRow(lane, 1)) * kTb + k0 + MatrixColumn(lane, 2));
        LoadMatrices<false>(al, tl + (r0 + MatrixRow(lane, 1)) * kTb + k0 + MatrixColumn(lane, 2));
        LoadMatrices<true>(bb, B + (k0 + MatrixRow(lane, 1)) * kB + c0 + MatrixColumn(lane, 2));
        MmaBf16(hi[0], ah, bb[0], bb[1]), MmaBf16(hi[1], ah, bb[2], bb[3]);
        MmaBf16(lo[0], al, bb[0], bb[1]), MmaBf16(lo[1], al, bb[2], bb[3]);
      }
#pragma unroll
      for (int m = 0; m < 2; ++m) {
#pragma unroll
        for (int e = 0; e < 4; e += 2) {
          emit(r0 + TileRow(e), column_at + c0 + TileColumn(m, e), hi[m][e] + lo[m][e], hi[m][e + 1] + lo[m][e + 1]);
        }
      }
    }
  };
  split(true, th, tl, false);
  __syncthreads();
  multiply(ks, kS, kKp, 0, kKp, [&](int t, int i, float x0, float x1) {  // W = T diag(e^gamma rk) K
    const int at = t * kSet.row + i;
    SplitBf16(x0, x1, *reinterpret_cast<uint32_t*>(set + kSet.at(SetLayout::kWh) + at),
              *reinterpret_cast<uint32_t*>(set + kSet.at(SetLayout::kWl) + at));
  });
  __syncthreads();
  split(false, th, tl, false);
  // U = T V, kValueBlock columns at a time (the padding columns up to Vp are zero).
  float* U = w.U + record * kC * a.Vp;
  for (int j0 = 0; j0 < a.Vp; j0 += kValueBlock) {
    if (j0 > 0) {
      __syncthreads();  // the previous block's products are done with vs
      stage_v(j0);
      CommitCopies();
    }
    WaitCopies<0>();
    __syncthreads();
    multiply(vs, kTb, kValueBlock, j0, a.Vp, [&](int t, int j, float x0, float x1) {
      *reinterpret_cast<float2*>(U + t * a.Vp + j) = make_float2(x0, x1);
    });
  }
}

// A bf16 state-kernel warp's elements of U (W/U form: its 16-row tile at r0, kNo 8-column tiles from c0 of the
// block's columns from column0) and the decay of `record`. The walk loads them a chunk ahead of their use: they come
// from global memory (the workspace outgrows L2), and waiting for them at the chunk's start put their latency on the
// walk's chain.
template <int kNo, class Args, class Work>
__device__ __forceinline__ void LoadChunkU(const Args& a, const Work& w, int64_t record, int column0, int r0, int c0,
                                           float (&u)[kNo][4], float& decay) {
  const float* U = w.U + record * kC * a.Vp + column0;
#pragma unroll
  for (int m = 0; m < kNo; ++m) {
#pragma unroll
    for (int e = 0; e < 4; ++e) u[m][e] = U[(r0 + TileRow(e)) * a.Vp + c0 + TileColumn(m, e)];
  }
  decay = w.decay[record];
}

// A walk warp's elements of v for chunk `chunk` of the sequence (the same tiles as LoadChunkU's; zero past the sequence
// and past V) and the decay of `record`, loaded a chunk ahead of their use likewise (the T form's walks: v from the
// inputs).
template <int kNo, typename T, class Work>
__device__ __forceinline__ void LoadChunkV(const ChunkArgs<T>& a, const Work& w, int64_t b, int64_t hv, int64_t chunk, int64_t record,
                                           int column0, int r0, int c0, float (&v)[kNo][4], float& decay) {
  const int64_t t0 = chunk * kC;
  const int n = static_cast<int>(min(static_cast<int64_t>(kC), a.seqlen - t0));
  const T* v0 = a.v + ((b * a.seqlen + t0) * a.value_heads + hv) * a.V + column0;
#pragma unroll
  for (int m = 0; m < kNo; ++m) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int t = r0 + TileRow(e), j = c0 + TileColumn(m, e);
      v[m][e] = t < n && column0 + j < a.V ? ToFloat(v0[static_cast<int64_t>(t) * a.value_heads * a.V + j]) : 0.f;
    }
  }
  decay = w.decay[record];
}

// blockIdx.x = bh * groups + group, the group's kCols state columns (64, 32, 16 or 8). state_in (null: zeros) and
// state_out (null: not kept) may be the same. kKp = a.Kp as a constant: every shared-memory offset in the products
// is then an immediate.
template <int kKp, int kCols>
__global__ void __launch_bounds__(StateThreads(kCols), 1) StateKernel(const ChunkArgs<float> a, const Workspace w, int64_t first_chunk,
                                                              int groups, const float* state_in, float* state_out) {
  LS_SHARED(float, shared);
  constexpr int Kp = kKp, rs = RowStride(Kp), cs = ColumnStride(Kp), kSStride = SStride(kCols), kWarps = StateThreads(kCols) / 32;
  constexpr int kNo = kCols <= 32 ? 1 : 2;            // a warp's 16 x 8 tiles of V' and O, side by side
  constexpr int kTilesAcross = kCols / (8 * kNo);  // warps across the columns
  const int K = a.K, V = a.V;
  const int warp = threadIdx.x / 32;
  float* Kbs = shared;              // [kC][rs]
  float* Qs = Kbs + kC * rs;        // [kC][rs]
  float* Ts = Qs + kC * rs;         // [kC][kAStride]
  float* Ks = Ts + kC * kAStride;   // [kC][cs]
  float* Ps = Ks + kC * cs;         // [kC][kAStride]
  float* Vs = Ps + kC * kAStride;   // [kC][kSStride] V'
  float* Rs = Vs + kC * kSStride;   // [kC][kSStride] R = V - Kb S
  float* Ss = Rs + kC * kSStride;   // [Kp][kSStride] the state's slice
  uint64_t* landed = reinterpret_cast<uint64_t*>(Ss + Kp * kSStride);  // [2] Kb, Qg and T; Kg and P
  constexpr FloatSet kSet(Kp);
  static_assert(kSet.t() == 2 * kC * rs && kSet.k() - kSet.t() == kC * kAStride && kSet.p() - kSet.k() == kC * cs,
                "StateKernel: the set's layout");
  const int64_t bh = blockIdx.x / groups, b = bh / a.value_heads, hv = bh % a.value_heads;
  const int column0 = blockIdx.x % groups * kCols;
  const int64_t state_at = bh * K * V + column0;

  for (int e = threadIdx.x; e < Kp * kCols; e += blockDim.x) {
    const int i = e / kCols, j = e % kCols;
    Ss[i * kSStride + j] = state_in && i < K && column0 + j < V ? state_in[state_at + static_cast<int64_t>(i) * V + j] : 0.f;
  }
  // Phase one's tiles: rows r0.. of V' and O, columns c0.. c0 + 8 kNo - 1 of the slice.
  const int r0 = warp / kTilesAcross * 16, c0 = warp % kTilesAcross * 8 * kNo;
  // The copies run under the products: Kb, Qg and T of the next chunk during phase three, Kg and P during phases one
  // and two; one bulk copy each (each waited for with the parity of its chunk).
  const auto stage_kqt = [&](int64_t chunk) {
    if (chunk < w.chunks) BulkStage(Kbs, w.sets + (bh * w.chunks + chunk) * kSet.floats(), sizeof(float) * kSet.k(), landed);
  };
  const auto stage_kp = [&](int64_t chunk) {
    if (chunk < w.chunks) {
      BulkStage(Ks, w.sets + (bh * w.chunks + chunk) * kSet.floats() + kSet.k(), sizeof(float) * (kSet.floats() - kSet.k()), landed + 1);
    }
  };
  if (threadIdx.x < 2) InitBulkBarrier(landed + threadIdx.x);
  __syncthreads();
  stage_kqt(0);
  stage_kp(0);
  float v_next[kNo][4], decay_next = 0.f;  // this warp's elements of v and the chunk's decay, a chunk ahead
  const auto load_v = [&](int64_t chunk) {
    LoadChunkV(a, w, b, hv, first_chunk + chunk, bh * w.chunks + chunk, column0, r0, c0, v_next, decay_next);
  };
  load_v(0);
  for (int64_t chunk = 0; chunk < w.chunks; ++chunk) {
    const int64_t t0 = (first_chunk + chunk) * kC;
    const int n = static_cast<int>(min(static_cast<int64_t>(kC), a.seqlen - t0));
    float v[kNo][4];
#pragma unroll
    for (int m = 0; m < kNo; ++m) {
#pragma unroll
      for (int e = 0; e < 4; ++e) v[m][e] = v_next[m][e];
    }
    const float decay = decay_next;
    if (chunk + 1 < w.chunks) load_v(chunk + 1);
    WaitBulkStage(landed, static_cast<uint32_t>(chunk & 1));  // Kb, Qg and T of this chunk
    __syncthreads();

    // R = V - Kb S and O = Qg S.
    float products[2][kNo][4] = {};
    const float* const rows[2] = {Kbs + r0 * rs, Qs + r0 * rs};
    WarpProducts<2, kNo>(products, rows, rs, 1, Ss + c0, kSStride, 1, Kp);
    float (&o)[kNo][4] = products[1];
#pragma unroll
    for (int m = 0; m < kNo; ++m) {
#pragma unroll
      for (int e = 0; e < 4; ++e) Rs[(r0 + TileRow(e)) * kSStride + c0 + TileColumn(m, e)] = v[m][e] - products[0][m][e];
    }
    __syncthreads();

    // V' = T R (T is lower triangular: row tile r0 needs columns up to r0 + 16).
    float vp[kNo][4] = {};
    WarpProduct<kNo>(vp, Ts + r0 * kAStride, kAStride, 1, Rs + c0, kSStride, 1, r0 + 16);
#pragma unroll
    for (int m = 0; m < kNo; ++m) {
#pragma unroll
      for (int e = 0; e < 4; ++e) Vs[(r0 + TileRow(e)) * kSStride + c0 + TileColumn(m, e)] = vp[m][e];
    }
    __syncthreads();
    stage_kqt(chunk + 1);
    WaitBulkStage(landed + 1, static_cast<uint32_t>(chunk & 1));  // Kg and P of this chunk
    __syncthreads();

    // O += P V' (P is causal: row tile r0 needs columns up to r0 + 16), written out.
    WarpProduct<kNo>(o, Ps + r0 * kAStride, kAStride, 1, Vs + c0, kSStride, 1, r0 + 16);
#pragma unroll
    for (int m = 0; m < kNo; ++m) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int t = r0 + TileRow(e), j = column0 + c0 + TileColumn(m, e);
        if (t < n && j < V) StoreAs(a.o + ((b * a.seqlen + t0 + t) * a.value_heads + hv) * V + j, o[m][e]);
      }
    }
    // S <- e^gamma_last S + Kg^T V', each warp on its own 16 x 16 tiles of the slice (16 x 8 for 8 columns).
    constexpr int kN = kCols >= 16 ? 2 : 1, kUnitsAcross = kCols / (8 * kN);
    for (int unit = warp; unit < Kp / 16 * kUnitsAcross; unit += kWarps) {
      const int i0 = unit / kUnitsAcross * 16, j0 = unit % kUnitsAcross * 8 * kN;
      float s[kN][4];
#pragma unroll
      for (int m = 0; m < kN; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) s[m][e] = decay * Ss[(i0 + TileRow(e)) * kSStride + j0 + TileColumn(m, e)];
      }
      WarpProduct<kN>(s, Ks + i0, 1, cs, Vs + j0, kSStride, 1, kC);
#pragma unroll
      for (int m = 0; m < kN; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) Ss[(i0 + TileRow(e)) * kSStride + j0 + TileColumn(m, e)] = s[m][e];
      }
    }
    __syncthreads();
    stage_kp(chunk + 1);
  }
  if (state_out) {
    for (int e = threadIdx.x; e < K * kCols; e += blockDim.x) {
      const int i = e / kCols, j = e % kCols;
      if (column0 + j < V) state_out[state_at + static_cast<int64_t>(i) * V + j] = Ss[i * kSStride + j];
    }
  }
}

// StateKernel for bf16 storage: the same walk with the operands in bf16 from WorkspaceBf16, read by ldmatrix, and
// kStagesBf16 chunks' sets in shared memory: on sm_90 two, the next one arriving by one bulk copy under this one's
// products; before, one (two do not fit the SM at key dims past 64), staged after them. Each warp keeps its tiles of
// the state slice in float32 registers and publishes them in two bf16 parts (Sh + Sl) for the products that read
// them; V' is split the same way. In the T form (TForm(kCols)) V' = T R with R = V - diag(e^gamma rk) K S, R split
// the same way too: three barriers a chunk (the state, R and V' published); in the W/U form V' = U - W S, two. The
// products keep float32 accuracy: T R and W S as hi·hi + hi·lo + lo·hi, K S, Q S and K^T V' with q and k exact (R's
// rows then times e^gamma rk, O's rows times e^gamma rq, V''s rows first times e^(gamma_last - gamma) rk), except
// P V', whose P is rounded once. Where OutputWarps(kCols), O has warps of its own: Q S while the walk warps form V',
// then P V' while they update the state (the walk warps' barriers then a named one, the output warps waiting for V' at
// another that the walk warps only arrive at, and the walk warps waiting before they publish the next S at a third that
// the output warps arrive at once their Q S is done: without it, an output warp slow to read S got the next chunk's,
// which the emulated test caught once in about twenty runs, and every time with the output warps held back).
template <int kKp, int kCols>
__global__ void __launch_bounds__(StateThreadsBf16(kCols), 1) StateKernelBf16(const ChunkArgs<__nv_bfloat16> a, const WorkspaceBf16 w,
                                                                  const __grid_constant__ QkTiles tiles, int64_t first_chunk,
                                                                  int groups, const float* state_in, float* state_out) {
  using bf16 = __nv_bfloat16;
  constexpr int kWarps = StateWalkThreadsBf16(kCols) / 32, kSb = SStrideBf16(kCols);  // the walk warps
  constexpr bool kOut = OutputWarps(kCols);
  // 8-column tiles per warp of V' and O, and warp tiles of V' and O across the columns.
  constexpr int kNo = kCols <= 32 ? 1 : 2, kTilesAcross = kCols / (8 * kNo);
  constexpr bool kTForm = TForm(kCols);
  constexpr SetLayout kLayout(kKp, kTForm);
  constexpr int kRow = kLayout.row, kSet = kLayout.elements();
  static_assert(kLayout.at(SetLayout::kQ) % 64 == 0 && kLayout.at(SetLayout::kK) % 64 == 0 && kSet % 64 == 0,
                "StateKernelBf16: the tiles' copies need 128-byte aligned shared memory");
  constexpr int kN = kCols >= 16 ? 2 : 1, kUnitsAcross = kCols / (8 * kN), kUnits = kKp / 16 * kUnitsAcross;
  constexpr int kPerWarp = (kUnits + kWarps - 1) / kWarps;
  LS_SHARED(__align__(128) uint4, shared_bf16);  // 128-byte aligned for the tiles' copies (SetLayout keeps it)
  bf16* sets = reinterpret_cast<bf16*>(shared_bf16);     // [kStagesBf16][kSet]
  bf16* Sh = sets + kStagesBf16 * kSet;               // [kKp][kSb] the state slice's parts
  bf16* Sl = Sh + kKp * kSb;
  bf16* Vh = Sl + kKp * kSb;                          // [kC][kSb] V''s parts
  bf16* Vl = Vh + kC * kSb;
  bf16* Xh = Vl + kC * kSb;                           // [kC][kSb] the parts of V' with rows times e^(gamma_last - gamma) rk
  bf16* Xl = Xh + kC * kSb;
  bf16* Rh = Xl + kC * kSb;                           // [kC][kSb] T form: the parts of R = V - e^gamma rk K S
  bf16* Rl = Rh + kC * kSb;
  uint64_t* landed = reinterpret_cast<uint64_t*>(kTForm ? Rl + kC * kSb : Rh);  // [kStagesBf16] the sets' bulk copies
  const int K = a.K, V = a.V;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bh = blockIdx.x / groups, b = bh / a.value_heads, hv = bh % a.value_heads;
  const int column0 = blockIdx.x % groups * kCols;
  const int64_t state_at = bh * K * V + column0;
  // Walk warps (all, without output warps) carry R, V' and the state; output warps (warp kWarps + i has walk warp i's
  // tile) form O.
  const bool walker = !kOut || warp < kWarps;
  const int tile = kOut ? warp % kWarps : warp;
  const int r0 = tile / kTilesAcross * 16, c0 = tile % kTilesAcross * 8 * kNo;  // this warp's tile of V' and O
  // The walk warps' barrier (R written, T form; V' written): where there are output warps, named barrier 1, among the
  // walk warps alone (the output warps wait for V' at barrier 2, which the walk warps only arrive at).
  const auto walkers_sync = [] {
    if constexpr (kOut) {
      NamedSync(1, kWarps * 32);
    } else {
      __syncthreads();
    }
  };
  // The B operand of 8 or 16 columns (as b has 2 or 4 registers) from col0 of bf16 rows [k0, k0 + 16) of `from` (a
  // part of S or V'): b[2m], b[2m + 1] for columns col0 + 8m ..
  const auto load_b = [&](auto& b, const bf16* from, int k0, int col0) {
    if constexpr (sizeof(b) == 16) {
      LoadMatrices<true>(b, from + (k0 + MatrixRow(lane, 1)) * kSb + col0 + MatrixColumn(lane, 2));
    } else {
      LoadMatrices2T(b, from + (k0 + lane % 16) * kSb + col0);
    }
  };

  const auto stage = [&](int64_t chunk) {
    if (chunk < w.chunks) {
      const int slot = static_cast<int>(chunk & (kStagesBf16 - 1));
      bf16* to = sets + slot * kSet;
      const bf16* from = w.sets + (bh * w.chunks + chunk) * w.record;
#if __CUDA_ARCH__ >= 900
      if (!w.qk_in_set) {
        const CUtensorMap* const maps[2] = {&tiles.q, &tiles.k};
        void* const tile_to[2] = {to + kLayout.at(SetLayout::kQ), to + kLayout.at(SetLayout::kK)};
        const int h = static_cast<int>(hv / (a.value_heads / a.heads));
        BulkStageWithTiles(to, from, 2 * w.record, maps, tile_to, 2 * kC * kRow, 0, h,
                           static_cast<int>((first_chunk + chunk) * kC), static_cast<int>(b), landed + slot);
        return;
      }
#endif
      BulkStage(to, from, 2 * w.record, landed + slot);
    }
  };
  if (threadIdx.x < kStagesBf16) InitBulkBarrier(landed + threadIdx.x);
  // The state's tiles of this warp: unit warp + p kWarps, rows i0.., columns j0.. (8 kN of them).
  float s[kPerWarp][kN][4];
  const auto publish = [&](int p, int i0, int j0) {
#pragma unroll
    for (int m = 0; m < kN; ++m) {
#pragma unroll
      for (int e = 0; e < 4; e += 2) {
        const int at = (i0 + TileRow(e)) * kSb + j0 + TileColumn(m, e);
        SplitBf16(s[p][m][e], s[p][m][e + 1], *reinterpret_cast<uint32_t*>(Sh + at), *reinterpret_cast<uint32_t*>(Sl + at));
      }
    }
  };
#pragma unroll
  for (int p = 0; p < kPerWarp; ++p) {
    const int unit = warp + p * kWarps, i0 = unit / kUnitsAcross * 16, j0 = unit % kUnitsAcross * 8 * kN;
    if (!walker || unit >= kUnits) break;
#pragma unroll
    for (int m = 0; m < kN; ++m) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = i0 + TileRow(e), j = j0 + TileColumn(m, e);
        s[p][m][e] = state_in && i < K && column0 + j < V ? state_in[state_at + static_cast<int64_t>(i) * V + j] : 0.f;
      }
    }
    publish(p, i0, j0);
  }
  __syncthreads();
  stage(0);
  // This warp's elements of v (T form) or of U (W/U form), and the chunk's decay, a chunk ahead.
  float x_next[kNo][4], decay_next = 0.f;
  const auto load_next = [&](int64_t chunk) {
    if constexpr (kTForm) {
      LoadChunkV(a, w, b, hv, first_chunk + chunk, bh * w.chunks + chunk, column0, r0, c0, x_next, decay_next);
    } else {
      LoadChunkU(a, w, bh * w.chunks + chunk, column0, r0, c0, x_next, decay_next);
    }
  };
  if (walker) load_next(0);
  for (int64_t chunk = 0; chunk < w.chunks; ++chunk) {
    const int64_t t0 = (first_chunk + chunk) * kC;
    const int n = static_cast<int>(min(static_cast<int64_t>(kC), a.seqlen - t0));
    float x[kNo][4];  // v or U
#pragma unroll
    for (int m = 0; m < kNo; ++m) {
#pragma unroll
      for (int e = 0; e < 4; ++e) x[m][e] = x_next[m][e];
    }
    const float decay = decay_next;
    if (walker && chunk + 1 < w.chunks) load_next(chunk + 1);
    const int slot = static_cast<int>(chunk & (kStagesBf16 - 1));  // kStagesBf16 is 1 or 2
    const bf16* set = sets + slot * kSet;
    // The first two parts are T's (T form) or W's.
    const bf16 *Mh = set + kLayout.at(SetLayout::kWh), *Ml = set + kLayout.at(SetLayout::kWl), *P = set + kLayout.at(SetLayout::kP);
    const bf16 *Q = set + kLayout.at(SetLayout::kQ), *Kc = set + kLayout.at(SetLayout::kK);
    const float* to_query = reinterpret_cast<const float*>(set + kLayout.at(SetLayout::kFactors));  // [kC], then
    const float* to_last = to_query + kC;                                                             // [kC], then (T form)
    const float* to_key = to_last + kC;                                                               // [kC]
    WaitBulkStage(landed + slot, static_cast<uint32_t>(chunk >> (kStagesBf16 - 1)) & 1);
    __syncthreads();  // this chunk's set and the state's parts are in; the other set (if any) is free
    if constexpr (kStagesBf16 == 2) stage(chunk + 1);

    // O = e^gamma rq Q S (by the output warps where there are), and V' = U - W S (W/U form) or R = V - e^gamma rk K S
    // (T form, K S with k exact against S's two parts: what the state does not yet predict of v).
    float oh[kNo][4] = {}, ol[kNo][4] = {};
    const auto scale_o = [&] {
      const float row_query[2] = {to_query[r0 + TileRow(0)], to_query[r0 + TileRow(2)]};
#pragma unroll
      for (int m = 0; m < kNo; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) oh[m][e] = row_query[e / 2] * (oh[m][e] + ol[m][e]), ol[m][e] = 0.f;
      }
    };
    if (walker) {
      float mh[kNo][4] = {}, ml[kNo][4] = {}, lh[kNo][4] = {};
#pragma unroll
      for (int k0 = 0; k0 < kKp; k0 += 16) {
        uint32_t ma[4], qa[4], sh[2 * kNo], sl[2 * kNo];
        LoadMatrices<false>(ma, (kTForm ? Kc : Mh) + (r0 + MatrixRow(lane, 1)) * kRow + k0 + MatrixColumn(lane, 2));
        if constexpr (!kOut) LoadMatrices<false>(qa, Q + (r0 + MatrixRow(lane, 1)) * kRow + k0 + MatrixColumn(lane, 2));
        load_b(sh, Sh, k0, c0), load_b(sl, Sl, k0, c0);
#pragma unroll
        for (int m = 0; m < kNo; ++m) {
          MmaBf16(mh[m], ma, sh[2 * m], sh[2 * m + 1]), MmaBf16(ml[m], ma, sl[2 * m], sl[2 * m + 1]);
          if constexpr (!kOut) MmaBf16(oh[m], qa, sh[2 * m], sh[2 * m + 1]), MmaBf16(ol[m], qa, sl[2 * m], sl[2 * m + 1]);
        }
        if constexpr (!kTForm) {
          uint32_t wl[4];
          LoadMatrices<false>(wl, Ml + (r0 + MatrixRow(lane, 1)) * kRow + k0 + MatrixColumn(lane, 2));
#pragma unroll
          for (int m = 0; m < kNo; ++m) MmaBf16(lh[m], wl, sh[2 * m], sh[2 * m + 1]);
        }
      }
      if constexpr (!kOut) scale_o();
      float vp[kNo][4];  // V'
      if constexpr (kTForm) {
        const float row_key[2] = {to_key[r0 + TileRow(0)], to_key[r0 + TileRow(2)]};
#pragma unroll
        for (int m = 0; m < kNo; ++m) {
#pragma unroll
          for (int e = 0; e < 4; e += 2) {
            const int at = (r0 + TileRow(e)) * kSb + c0 + TileColumn(m, e);
            SplitBf16(x[m][e] - row_key[e / 2] * (mh[m][e] + ml[m][e]), x[m][e + 1] - row_key[e / 2] * (mh[m][e + 1] + ml[m][e + 1]),
                      *reinterpret_cast<uint32_t*>(Rh + at), *reinterpret_cast<uint32_t*>(Rl + at));
          }
        }
        walkers_sync();
        // V' = T R (T is lower triangular: row tile r0 needs columns up to r0 + 16).
        float tr[kNo][4] = {}, fix[kNo][4] = {};
        for (int k0 = 0; k0 <= r0; k0 += 16) {
          uint32_t ta[4], tb[4], rh[2 * kNo], rl[2 * kNo];
          LoadMatrices<false>(ta, Mh + (r0 + MatrixRow(lane, 1)) * kTb + k0 + MatrixColumn(lane, 2));
          LoadMatrices<false>(tb, Ml + (r0 + MatrixRow(lane, 1)) * kTb + k0 + MatrixColumn(lane, 2));
          load_b(rh, Rh, k0, c0), load_b(rl, Rl, k0, c0);
#pragma unroll
          for (int m = 0; m < kNo; ++m) {
            MmaBf16(tr[m], ta, rh[2 * m], rh[2 * m + 1]), MmaBf16(fix[m], ta, rl[2 * m], rl[2 * m + 1]);
            MmaBf16(fix[m], tb, rh[2 * m], rh[2 * m + 1]);
          }
        }
#pragma unroll
        for (int m = 0; m < kNo; ++m) {
#pragma unroll
          for (int e = 0; e < 4; ++e) vp[m][e] = tr[m][e] + fix[m][e];
        }
      } else {
#pragma unroll
        for (int m = 0; m < kNo; ++m) {
#pragma unroll
          for (int e = 0; e < 4; ++e) vp[m][e] = x[m][e] - (mh[m][e] + ml[m][e] + lh[m][e]);
        }
      }
      // V' in two parts, for P V', and with its rows times e^(gamma_last - gamma) rk, for K^T V'.
      const float row_last[2] = {to_last[r0 + TileRow(0)], to_last[r0 + TileRow(2)]};
#pragma unroll
      for (int m = 0; m < kNo; ++m) {
#pragma unroll
        for (int e = 0; e < 4; e += 2) {
          const int at = (r0 + TileRow(e)) * kSb + c0 + TileColumn(m, e);
          const float v0 = vp[m][e], v1 = vp[m][e + 1];
          SplitBf16(v0, v1, *reinterpret_cast<uint32_t*>(Vh + at), *reinterpret_cast<uint32_t*>(Vl + at));
          SplitBf16(row_last[e / 2] * v0, row_last[e / 2] * v1, *reinterpret_cast<uint32_t*>(Xh + at), *reinterpret_cast<uint32_t*>(Xl + at));
        }
      }
      if constexpr (kOut) NamedArrive(2, StateThreadsBf16(kCols));  // the output warps may take V'
      walkers_sync();
    } else {
      // An output warp: Q S on its tile while the walk warps form V', then (below) P V'.
#pragma unroll
      for (int k0 = 0; k0 < kKp; k0 += 16) {
        uint32_t qa[4], sh[2 * kNo], sl[2 * kNo];
        LoadMatrices<false>(qa, Q + (r0 + MatrixRow(lane, 1)) * kRow + k0 + MatrixColumn(lane, 2));
        load_b(sh, Sh, k0, c0), load_b(sl, Sl, k0, c0);
#pragma unroll
        for (int m = 0; m < kNo; ++m) MmaBf16(oh[m], qa, sh[2 * m], sh[2 * m + 1]), MmaBf16(ol[m], qa, sl[2 * m], sl[2 * m + 1]);
      }
      NamedArrive(3, StateThreadsBf16(kCols));  // done with S: the walk warps may publish the next
      scale_o();
      NamedSync(2, StateThreadsBf16(kCols));
    }

    // O += P V' (P is causal: row tile r0 needs columns up to r0 + 16), written out.
    if (!kOut || !walker) {
      for (int k0 = 0; k0 <= r0; k0 += 16) {
        uint32_t pa[4], vh[2 * kNo], vl[2 * kNo];
        LoadMatrices<false>(pa, P + (r0 + MatrixRow(lane, 1)) * kTb + k0 + MatrixColumn(lane, 2));
        load_b(vh, Vh, k0, c0), load_b(vl, Vl, k0, c0);
#pragma unroll
        for (int m = 0; m < kNo; ++m) MmaBf16(oh[m], pa, vh[2 * m], vh[2 * m + 1]), MmaBf16(ol[m], pa, vl[2 * m], vl[2 * m + 1]);
      }
#pragma unroll
      for (int m = 0; m < kNo; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int t = r0 + TileRow(e), j = column0 + c0 + TileColumn(m, e);
          if (t < n && j < V) StoreAs(a.o + ((b * a.seqlen + t0 + t) * a.value_heads + hv) * V + j, oh[m][e] + ol[m][e]);
        }
      }
    }
    // S <- e^gamma_last S + K^T diag(e^(gamma_last - gamma) rk) V' on this warp's tiles, published for the next chunk
    // once the output warps have read S for Q S (named barrier 3, which they only arrive at).
    if (kOut && walker) NamedSync(3, StateThreadsBf16(kCols));
#pragma unroll
    for (int p = 0; p < kPerWarp; ++p) {
      const int unit = warp + p * kWarps, i0 = unit / kUnitsAcross * 16, j0 = unit % kUnitsAcross * 8 * kN;
      if (!walker || unit >= kUnits) break;
      float fix[kN][4] = {};
#pragma unroll
      for (int m = 0; m < kN; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) s[p][m][e] *= decay;
      }
#pragma unroll
      for (int k0 = 0; k0 < kC; k0 += 16) {
        uint32_t ka[4], xh[2 * kN], xl[2 * kN];
        LoadMatrices<true>(ka, Kc + (k0 + MatrixRow(lane, 2)) * kRow + i0 + MatrixColumn(lane, 1));
        load_b(xh, Xh, k0, j0), load_b(xl, Xl, k0, j0);
#pragma unroll
        for (int m = 0; m < kN; ++m) MmaBf16(s[p][m], ka, xh[2 * m], xh[2 * m + 1]), MmaBf16(fix[m], ka, xl[2 * m], xl[2 * m + 1]);
      }
#pragma unroll
      for (int m = 0; m < kN; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) s[p][m][e] += fix[m][e];
      }
      publish(p, i0, j0);
    }
    if constexpr (kStagesBf16 == 1) {
      __syncthreads();  // every warp is done with the set
      stage(chunk + 1);
    }
  }
  if (state_out && walker) {
#pragma unroll
    for (int p = 0; p < kPerWarp; ++p) {
      const int unit = warp + p * kWarps, i0 = unit / kUnitsAcross * 16, j0 = unit % kUnitsAcross * 8 * kN;
      if (unit >= kUnits) break;
#pragma unroll
      for (int m = 0; m < kN; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int i = i0 + TileRow(e), j = j0 + TileColumn(m, e);
          if (i < K && column0 + j < V) state_out[state_at + static_cast<int64_t>(i) * V + j] = s[p][m][e];
        }
      }
    }
  }
}

// --- The walk on Hopper's warpgroup products (sm_90a, key dim 128 padded): a block of one warpgroup per (batch, value
// head, 64 state columns) keeps its slice of the state transposed, S^T [64 columns][128 keys], in float32 accumulators,
// so that every product of the walk takes its A operand from registers, S or what was formed from it (an
// accumulator's n8 tiles 2k and 2k + 1 are the A fragment of depth step k), and its B operand from the chunk's tiles
// as the tensor memory accelerator or the record lands them (128-byte swizzle): nothing of the state goes through
// shared memory, and each operand tile is read once per warpgroup rather than once per warp. Per chunk, with j, i the
// chunk's tokens: X = S K^T and Y = S Q^T, R = V^T - X diag(e^gamma rk) (two parts), V'^T = R T^T
// (hi·hi + hi·lo + lo·hi), O^T = Y diag(e^gamma rq) + V'^T P^T, and S <- e^gamma_last S + V'^T diag(e^(gamma_last -
// gamma) rk) K, the same arithmetic as StateKernelBf16's T form. The next chunk's tiles arrive under this chunk's
// products.
//  - bf16 storage: k, q and v from the inputs by tensor maps, exact, against S in two bf16 parts (for Y, which feeds
//    only O, rounded once, as V' for O is); the record (WgmmaSet) holds T's parts, P (rounded once) and the factors.
//    O goes out through a shared tile by a bulk tensor store. 56 products a chunk.
//  - float32 storage: the record (WgmmaSetFloat) holds the normalized k and q, T and P, each in two bf16 parts, so that
//    every product is hi·hi + hi·lo + lo·hi of its operands' parts (about 1e-5 relative, where the 3xTF32 walk keeps
//    about 1e-6); v comes from the inputs by a tensor map in float32, O goes out by plain stores.
//  - kBf16Products (bf16 storage, where the call allows it: allow_bf16_products): every operand rounded once to bf16,
//    S, R and V' included, and one product each, as flash-linear-attention's kernels take them: 32 products a chunk
//    instead of 56, the state within a few 1e-3 instead of a few 1e-6 (on an H100, B1 T65536 H16 1.42 ms against 1.62,
//    2026-12-07).
constexpr int kWgmmaColumns = 64, kWalkThreads = 128;
constexpr int kTileBytes = kC * 64 * 2;  // a 64 x 64 bf16 tile (or 64 tokens x 32 columns of float32 v)
// A stage's byte offsets for storage T: the tiles from the inputs, then the record (as one bulk copy lands it). bf16:
// k's tiles (keys 0-63, 64-127), q's, v's (the block's 64 columns), then the record (T's parts, P, factors). float32:
// v's two tiles (columns 0-31, 32-63), then the record (k's and q's high and low parts, T's, P's, factors). A part's
// second 64 keys follow it at kTileBytes; float32's low parts follow their high parts at kLowKeys (k, q) and kLowP.
constexpr uint32_t kLowKeys = 2 * (WgmmaSetFloat::kKl - WgmmaSetFloat::kKh), kLowP = 2 * (WgmmaSetFloat::kPl - WgmmaSetFloat::kPh);
static_assert(WgmmaSetFloat::kQl - WgmmaSetFloat::kQh == WgmmaSetFloat::kKl - WgmmaSetFloat::kKh, "WalkStage: kLowKeys");
template <typename T>
struct WalkStage {
  static constexpr bool kFloat = sizeof(T) == 4;
  static constexpr uint32_t kRecord = (kFloat ? 2 : 5) * kTileBytes;
  static constexpr uint32_t kRecordBytes = 2 * WgmmaRecordElements<T>();
  static constexpr uint32_t kK = kFloat ? kRecord + 2 * WgmmaSetFloat::kKh : 0;
  static constexpr uint32_t kQ = kFloat ? kRecord + 2 * WgmmaSetFloat::kQh : 2 * kTileBytes;
  static constexpr uint32_t kV = kFloat ? 0 : 4 * kTileBytes;
  static constexpr uint32_t kTh = kRecord + 2 * (kFloat ? WgmmaSetFloat::kTh : WgmmaSet::kTh);
  static constexpr uint32_t kTl = kRecord + 2 * (kFloat ? WgmmaSetFloat::kTl : WgmmaSet::kTl);
  static constexpr uint32_t kP = kRecord + 2 * (kFloat ? WgmmaSetFloat::kPh : WgmmaSet::kP);
  static constexpr uint32_t kFactors = kRecord + 2 * (kFloat ? WgmmaSetFloat::kFactors : WgmmaSet::kFactors);
  static constexpr uint32_t kInputBytes = (kFloat ? 2 : 5) * kTileBytes;
  // Stages in flight: bf16 three, the copy issued two chunks ahead (with bf16 products the walk outruns one chunk's copy:
  // on an H100, B1 T65536 H16 took 1.81 ms with two stages, 1.51 with three; the default walk is the same either way,
  // 2.31-2.33 ms); float32 two (all an H100's 227 KB).
  static constexpr int kCount = kFloat ? 2 : 3;
  // Each stage 1024-byte aligned; the stages' mbarriers in the first one's padding.
  static constexpr uint32_t kBytes = (kRecord + kRecordBytes + 1023) / 1024 * 1024;
  static constexpr uint32_t kBarriers = kBytes - kCount * sizeof(uint64_t);
  static_assert(kRecord + kRecordBytes <= kBarriers, "WalkStage: room for the mbarriers");
};
// Its shared memory: the stages (1024-byte aligned) and (bf16) O's tile. float32 takes all of an H100's 227 KB.
template <typename T>
constexpr size_t WgmmaStateShared() { return 1024 + WalkStage<T>::kCount * WalkStage<T>::kBytes + (sizeof(T) == 2 ? kTileBytes : 0); }
// q, k, v as loaded and o as stored by WgmmaStateKernel: boxes of 64 elements (float32 v: 32) by kC tokens, 128-byte
// swizzled (float32 uses v's only).
// c: the identity columns' outputs of a segment-parallel walk in bf16 (WalkSegments; [batch][tokens from c_token0][value
// heads][key dim]), encoded only there (float32 stores them plainly, to WalkSegments::c).
struct WalkTiles {
  CUtensorMap q, k, v, o, c;
};

// The walks one WgmmaStateKernel launch runs: `count` segments of the sequence at once (1: the plain walk). Segment 0
// walks the value columns from the call's state. Each later segment walks from a zero state and, beside its value
// columns, identity columns: key dim more state columns whose v is zero and whose state starts as the identity, so that
// their state ends as the segment's transition Phi (the state it ends with is Phi S + its own, for any S it starts
// from) and their outputs C give the segment's o for a start S as its own o + C S (the rule is linear in the start
// state and v together). LaunchWgmmaParallel then chains the segments' starts and adds C S to o.
constexpr int kMaxWalkSegments = 4;
struct WalkSegments {
  int count;            // segments
  int value_groups;     // blocks of value columns a head (every segment)
  int identity_groups;  // blocks of identity columns a head (segments 1 on)
  int64_t c_token0;     // C's token 0: segment 1's first
  float* c;             // float32 storage: C [batch][tokens from c_token0][value heads][key dim] (bf16: tiles.c)
  int64_t first_chunk[kMaxWalkSegments];  // this launch's first chunk of each segment
  int64_t chunks[kMaxWalkSegments];       // and its chunks (their records w.chunks apart, segment-major)
  const float* state_in[kMaxWalkSegments];  // value columns [bh][K][V] (null: zeros)
  float* state_out[kMaxWalkSegments];       // (null: not kept)
  const float* phi_in[kMaxWalkSegments];    // identity columns [bh][K][K] (null: the identity)
  float* phi_out[kMaxWalkSegments];
};
// The plain walk's: one segment from first_chunk over w.chunks chunks.
inline WalkSegments OneWalk(int64_t first_chunk, int64_t chunks, int groups, const float* state_in, float* state_out) {
  WalkSegments segments = {};
  segments.count = 1, segments.value_groups = groups, segments.first_chunk[0] = first_chunk, segments.chunks[0] = chunks;
  segments.state_in[0] = state_in, segments.state_out[0] = state_out;
  return segments;
}

// blockIdx.x: segment 0's blocks (bh * value_groups + group), then each later segment's (bh * (value_groups +
// identity_groups) + group; its identity columns' groups last). A segment's state_in and state_out may be the same.
// kSegmented: more than one segment, identity columns; else the plain walk's code alone (one segment).
template <typename T, bool kBf16Products = false, bool kSegmented = false>
__global__ void __launch_bounds__(kWalkThreads, 1) WgmmaStateKernel(const ChunkArgs<T> a, const WorkspaceBf16 w,
                                                                    const __grid_constant__ WalkTiles tiles,
                                                                    const __grid_constant__ WalkSegments segments) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using Stage = WalkStage<T>;
  constexpr bool kFloat = Stage::kFloat;
  LS_SHARED(float4, shared4);
  const uint32_t shared_at = static_cast<uint32_t>(__cvta_generic_to_shared(shared4));
  char* base = reinterpret_cast<char*>(shared4) + ((shared_at + 1023) / 1024 * 1024 - shared_at);  // 1024-aligned
  const uint32_t base_at = static_cast<uint32_t>(__cvta_generic_to_shared(base));
  constexpr int kStages = Stage::kCount;
  uint64_t* landed = reinterpret_cast<uint64_t*>(base + Stage::kBarriers);  // [kStages] the stages' copies
  const int K = a.K, V = a.V;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t heads = a.batch * a.value_heads, first_blocks = heads * segments.value_groups;
  int segment = 0, groups = segments.value_groups;
  int64_t block = blockIdx.x;
  if (kSegmented && block >= first_blocks) {
    groups += segments.identity_groups;
    segment = 1 + static_cast<int>((block - first_blocks) / (heads * groups));
    block = (block - first_blocks) % (heads * groups);
  }
  const int64_t bh = block / groups, b = bh / a.value_heads, hv = bh % a.value_heads;
  const int h = static_cast<int>(hv / (a.value_heads / a.heads));
  const int group = static_cast<int>(block % groups);
  // Identity columns: v zero (not loaded), o into C, the state from and to phi.
  const bool identity = kSegmented && group >= segments.value_groups;
  const int column0 = (identity ? group - segments.value_groups : group) * kWgmmaColumns;
  const int columns = identity ? K : V;  // the state's row length
  const int64_t first_chunk = segments.first_chunk[segment], chunks = segments.chunks[segment];
  const int64_t record0 = (segment * heads + bh) * w.chunks;
  const float* state_in = identity ? segments.phi_in[segment] : segments.state_in[segment];
  float* state_out = identity ? segments.phi_out[segment] : segments.state_out[segment];
  ReadyBulkBarriers(landed, kStages);
  // By thread 0: chunk c's tiles and record into stage c % kStages.
  const auto issue = [&](int64_t c) {
    const int slot = static_cast<int>(c % kStages);
    const uint32_t to = base_at + slot * Stage::kBytes, bar = static_cast<uint32_t>(__cvta_generic_to_shared(landed + slot));
    const int t0 = static_cast<int>((first_chunk + c) * kC), bi = static_cast<int>(b), hvi = static_cast<int>(hv);
    // With bf16 products T's low part is not read: the record's other parts alone (T's high part, then P and the
    // factors).
    constexpr uint32_t kUnread = kBf16Products ? kTileBytes : 0;
    constexpr uint32_t kVBytes = (kFloat ? 2 : 1) * kTileBytes;
    ArriveExpecting(bar, Stage::kInputBytes + Stage::kRecordBytes - kUnread - (identity ? kVBytes : 0));
    if constexpr (kFloat) {
      if (!identity) {
        CopyTile(to, &tiles.v, column0, hvi, t0, bi, bar);
        CopyTile(to + kTileBytes, &tiles.v, column0 + 32, hvi, t0, bi, bar);
      }
    } else {
      CopyTile(to, &tiles.k, 0, h, t0, bi, bar);
      CopyTile(to + kTileBytes, &tiles.k, 64, h, t0, bi, bar);
      CopyTile(to + 2 * kTileBytes, &tiles.q, 0, h, t0, bi, bar);
      CopyTile(to + 3 * kTileBytes, &tiles.q, 64, h, t0, bi, bar);
      if (!identity) CopyTile(to + 4 * kTileBytes, &tiles.v, column0, hvi, t0, bi, bar);
    }
    const __nv_bfloat16* record = w.sets + (record0 + c) * w.record;
    if constexpr (kBf16Products) {
      static_assert(WgmmaSet::kTl == WgmmaSet::kTh + kC * kC && WgmmaSet::kP == WgmmaSet::kTl + kC * kC, "the record's order");
      BulkCopy(to + Stage::kTh, record + WgmmaSet::kTh, kTileBytes, bar);
      BulkCopy(to + Stage::kP, record + WgmmaSet::kP, Stage::kRecordBytes - 2 * WgmmaSet::kP, bar);
    } else {
      BulkCopy(to + Stage::kRecord, record, Stage::kRecordBytes, bar);
    }
  };
  if (threadIdx.x == 0) {
    for (int64_t c = 0; c < kStages - 1 && c < chunks; ++c) issue(c);
  }

  // This thread's elements of an accumulator [64 rows][64 columns] (element 4 n + e): row 16 warp + TileRow(e), column
  // TileColumn(n, e). The state: S^T's row = column0 + that row of the state, its column = key 64 half + that column.
  const int row = 16 * warp;  // this warp's rows: row + TileRow(e)
  float s[2][32];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      const int j = column0 + row + TileRow(i % 4), key = 64 * half + TileColumn(i / 4, i % 4);
      const bool inside = key < K && j < columns;
      s[half][i] = inside && state_in ? __ldg(state_in + (bh * K + key) * columns + j) : inside && identity && key == j ? 1.f : 0.f;
    }
  }
  // Which A operands go in one part, rounded to bf16 once, rather than in two: those that carry the state only with
  // bf16 products (StateOnce); those that feed only O, S for Y and V' for O's second term, in bf16 storage
  // (OutputOnce), as P does: o is stored in bf16 (within 3.2e-3 of the float32 result at B1 T4096 H16 instead of
  // 2.7e-3), while every product that carries the state keeps its operands' two parts (the final state as before). On
  // an H100, B1 K=V=128, two rounds: T4096 H16 0.174-0.176 -> 0.160-0.161 ms, T65536 H16 1.77-1.79 -> 1.70-1.72,
  // T262144 H8 4.26-4.30 -> 4.06-4.10 (BENCHMARKS.md, 2026-12-07).
  using StateOnce = std::bool_constant<kBf16Products>;
  using OutputOnce = std::bool_constant<!kFloat>;
  // The A fragments of depth step k from an accumulator's elements, as f(i) gives elements i and i + 1 (a float2; the
  // same token pair): n8 tiles 2k and 2k + 1, in two bf16 parts, or (`once`, StateOnce or OutputOnce) the first alone.
  const auto fragments = [](auto once, uint32_t (&frag)[2][4], int k, const auto& f) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const float2 x = f(4 * (2 * k + q / 2) + 2 * (q % 2));
      if constexpr (decltype(once)::value) frag[0][q] = PackBf16(x.x, x.y);  // rounded once
      else SplitBf16(x.x, x.y, frag[0][q], frag[1][q]);
    }
  };
  // Holds the A fragments' parts that the products read (`once`: the first alone).
  const auto HoldParts = [](auto once, uint32_t (&parts)[2][4]) {
    if constexpr (decltype(once)::value) HoldRegisters(*reinterpret_cast<uint32_t(*)[1][4]>(&parts));
    else HoldRegisters(parts);
  };
  // The factors of the tokens of elements i and i + 1 (TileColumn(i / 4, 0) and the next).
  const auto pair_of = [](const float* factors, int i) { return *reinterpret_cast<const float2*>(factors + TileColumn(i / 4, 0)); };
  // The byte offset, in a [kC tokens][64 columns] tile in the 128-byte swizzle, of the row this lane addresses in an
  // ldmatrix / stmatrix of the warp's 16 columns by tokens 16 k.. (transposed: A fragments of the tile's transpose).
  const auto TileRowAddress = [&](int k) {
    const int t = 16 * k + MatrixRow(lane, 2), piece = (row + MatrixColumn(lane, 1)) / 8;
    return static_cast<uint32_t>(t * 128 + ((piece ^ (t % 8)) * 16));
  };
  // O of chunk c (in y, once its products are done) out: bf16 through the shared tile, by one bulk tensor store;
  // float32 by this thread's stores (8 adjacent columns of a token a quad of lanes: whole 32-byte sectors). Identity
  // columns' into C.
  const uint32_t out_at = base_at + kStages * Stage::kBytes;
  const auto store_o = [&](const float (&y)[32], int64_t c) {
    if constexpr (kFloat) {
      const int64_t t0 = (first_chunk + c) * kC + TileColumn(0, 0);
      const int tokens = static_cast<int>(min(static_cast<int64_t>(kC), a.seqlen - t0));  // past this thread's first
      const int64_t c_t0 = identity ? segments.c_token0 : 0, c_tokens = a.seqlen - c_t0;
      // Each token's address from o's by a 32-bit offset (WalksOnWgmma keeps a chunk's below 2^32), o's address opaque:
      // else the compiler works each token's 64-bit index out anew, some 160 instructions a chunk that the walk's
      // issue waits on.
      const uint64_t o = OpaqueGlobalAddress((identity ? segments.c : a.o) + ((b * c_tokens + t0 - c_t0) * a.value_heads + hv) * columns +
                                             column0 + row + TileRow(0));
      const uint32_t token_stride = static_cast<uint32_t>(a.value_heads * columns);
      const bool left = column0 + row + TileRow(0) < columns, right = column0 + row + TileRow(2) < columns;
#pragma unroll
      for (int i = 0; i < 32; ++i) {
        const uint32_t t = TileColumn(i / 4, i % 4) - TileColumn(0, 0);
        const uint64_t token_o = o + sizeof(float) * uint64_t{t * token_stride};
        if (static_cast<int>(t) < tokens && (i % 4 < 2 ? left : right)) {
          StoreGlobal(token_o + sizeof(float) * (TileRow(i % 4) - TileRow(0)), y[i]);
        }
      }
    } else {
      if (threadIdx.x == 0) WaitBulkStoresRead();  // the previous chunk's store has read the tile
      __syncthreads();
#pragma unroll
      for (int k = 0; k < 4; ++k) {  // as the A fragments of O^T's depth step k, transposed into the tile's rows (tokens)
        uint32_t o2[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int i = 4 * (2 * k + q / 2) + 2 * (q % 2);
          o2[q] = PackBf16(y[i], y[i + 1]);
        }
        StoreMatrices<true>(o2, out_at + TileRowAddress(k));
      }
      FenceSharedForBulk();
      __syncthreads();
      if (threadIdx.x == 0) {
        const int t0 = static_cast<int>((first_chunk + c) * kC - (identity ? segments.c_token0 : 0));
        StoreTile(out_at, identity ? &tiles.c : &tiles.o, column0, static_cast<int>(hv), t0, static_cast<int>(b));
        CommitBulkStores();
      }
    }
  };
  float y[32];                  // Y, then O; chunk c's goes out while chunk c + 1's X is formed
  uint32_t va[4][2][4];         // V''s parts, which O's last products read
  float decay_next = chunks > 0 ? w.decay[record0] : 0.f;
  for (int64_t c = 0; c < chunks; ++c) {
    const int slot = static_cast<int>(c % kStages);
    const uint32_t stage = base_at + slot * Stage::kBytes;
    const char* stage_bytes = base + slot * Stage::kBytes;
    // The descriptor of the stage's tile at byte offset `at` (the address field is its bits 0-13, shared addresses
    // stay below 2^18 bytes: adding to it carries into nothing).
    const uint64_t stage_descriptor = SwizzledDescriptor(stage);
    const auto tile = [stage_descriptor](uint32_t at) { return stage_descriptor + (at >> 4); };
    const float* to_query = reinterpret_cast<const float*>(stage_bytes + Stage::kFactors);
    const float* to_last = to_query + kC;
    const float* to_key = to_last + kC;
    const float decay = decay_next;
    if (c + 1 < chunks) decay_next = w.decay[record0 + c + 1];
    WaitBulkStage(landed + slot, static_cast<uint32_t>(c / kStages) & 1);

    // X = S K^T (S in two parts, depth = keys), while chunk c - 1's O goes out.
    uint32_t sa[8][2][4];
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      fragments(StateOnce{}, sa[k], k % 4, [&](int i) { return make_float2(s[k / 4][i], s[k / 4][i + 1]); });
    }
    // d = S M^T for the chunk's k or q (its keys 0-63 at `at`, 64-127 a tile on; float32: its low part kLowKeys on) over
    // depth steps k0 .. k1 - 1 (k0 = 0: d zeroed first), one commit group; S in one part where `once` says so.
    const auto times_s = [&](float (&d)[32], uint32_t at, int k0, int k1, auto once) {
      if (k0 == 0) {
#pragma unroll
        for (int i = 0; i < 32; ++i) d[i] = 0.f;
      }
      WgmmaFence();
#pragma unroll
      for (int k = k0; k < k1; ++k) {
        const uint64_t dm = tile(at + k / 4 * kTileBytes + 32 * (k % 4));
        WgmmaN64KMajorB(d, sa[k][0], dm);
        if constexpr (!decltype(once)::value) WgmmaN64KMajorB(d, sa[k][1], dm);
        if constexpr (kFloat) WgmmaN64KMajorB(d, sa[k][0], dm + (kLowKeys >> 4));
      }
      WgmmaCommit();
    };
    float x[32];
    times_s(x, Stage::kK, 0, 8, StateOnce{});
    if (c > 0) {
      WgmmaWait<1>();  // chunk c - 1's O
      HoldRegisters(y);
#pragma unroll
      for (int k = 0; k < 4; ++k) HoldParts(OutputOnce{}, va[k]);
      store_o(y, c - 1);  // bf16: its barriers: every warp is done with chunk c - 1's stage
      if constexpr (kFloat) __syncthreads();  // (float32: this one)
    }
    if (threadIdx.x == 0 && c + kStages - 1 < chunks) issue(c + kStages - 1);  // into chunk c - 1's stage
    // Y = S Q^T. float32 issues it in two halves of its depth (the keys): the first runs while R is formed, the second
    // while V' is scaled, so that neither holds up the chain X -> V' -> S behind it on the tensor cores (its Y is 24
    // products, bf16's 16 or 8). On an H100, B1 K=V=128, four rounds: float32 T4096 0.327 -> 0.323 ms, T65536 3.82 ->
    // 3.78; bf16 split so, T65536 1.86 -> 1.87 (BENCHMARKS.md, 2026-12-07), so bf16 keeps Y whole.
    constexpr bool kSplitY = kFloat;
    times_s(y, Stage::kQ, 0, kSplitY ? 4 : 8, OutputOnce{});
    WgmmaWait<1>();  // X
    HoldRegisters(x);

    // R = V^T - X diag(e^gamma rk) in two parts (depth = tokens), while Y runs; then V'^T = R T^T. v's elements: bf16 by
    // ldmatrix from its tile [token][column]; float32 from its two tiles [token][32 columns] (in the 128-byte swizzle:
    // a warp's loads hit 32 distinct banks).
    const auto v_float = [&](int t, int j) {
      return *reinterpret_cast<const float*>(stage_bytes + Stage::kV + j / 32 * kTileBytes + t * 128 +
                                             ((((j % 32) / 4) ^ (t % 8)) * 16) + (j % 4) * 4);
    };
    uint32_t ra[4][2][4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      uint32_t v2[4] = {0, 0, 0, 0};
      if constexpr (!kFloat) {
        if (!identity) LoadMatrices<true>(v2, stage + Stage::kV + TileRowAddress(k));
      }
      fragments(StateOnce{}, ra[k], k, [&](int i) {
        const float2 f = pair_of(to_key, i);
        float2 vv;
        if constexpr (kFloat) {
          const int t = TileColumn(i / 4, 0), j = row + TileRow(i % 4);
          vv = identity ? make_float2(0.f, 0.f) : make_float2(v_float(t, j), v_float(t + 1, j));
        } else {
          const uint32_t v = v2[(i / 4 - 2 * k) * 2 + (i % 4) / 2];
          vv = make_float2(__uint_as_float(v << 16), __uint_as_float(v & 0xffff0000u));
        }
        return make_float2(vv.x - f.x * x[i], vv.y - f.y * x[i + 1]);
      });
    }
    float vp[32];
#pragma unroll
    for (int i = 0; i < 32; ++i) vp[i] = 0.f;
    WgmmaFence();
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint64_t dh = tile(Stage::kTh + 32 * k), dl = tile(Stage::kTl + 32 * k);
      WgmmaN64KMajorB(vp, ra[k][0], dh);
      if constexpr (!kBf16Products) WgmmaN64KMajorB(vp, ra[k][1], dh), WgmmaN64KMajorB(vp, ra[k][0], dl);
    }
    WgmmaCommit();
    // O's first term: Y's rows scaled by the queries' factors, once Y is done.
    const auto scale_y = [&] {
      HoldRegisters(y);
#pragma unroll
      for (int k = 0; k < 8; ++k) HoldParts(StateOnce{}, sa[k]);
#pragma unroll
      for (int i = 0; i < 32; i += 2) {
        const float2 f = pair_of(to_query, i);
        y[i] *= f.x, y[i + 1] *= f.y;
      }
    };
    if constexpr (kSplitY) {
      times_s(y, Stage::kQ, 4, 8, OutputOnce{});
      WgmmaWait<1>();  // V' (and Y's first half); Y's second half runs on
    } else {
      WgmmaWait<1>();  // Y, while V' runs
      scale_y();
      WgmmaWait<0>();  // V'
    }
    HoldRegisters(vp);
#pragma unroll
    for (int k = 0; k < 4; ++k) HoldParts(StateOnce{}, ra[k]);

    // S <- e^gamma_last S + V'^T diag(e^(gamma_last - gamma) rk) K, then O^T += V'^T P^T, left running (ptxas waits for
    // it at the loop's head all the same, C7517: it cannot tell which products are still running there).
    uint32_t xa[4][2][4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      fragments(StateOnce{}, xa[k], k, [&](int i) {
        const float2 f = pair_of(to_last, i);
        return make_float2(f.x * vp[i], f.y * vp[i + 1]);
      });
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {
#pragma unroll
      for (int i = 0; i < 32; ++i) s[half][i] *= decay;
    }
    WgmmaFence();
#pragma unroll
    for (int half = 0; half < 2; ++half) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {  // depth = tokens 16 k.. : K's rows, MN-major
        const uint64_t dk = tile(Stage::kK + half * kTileBytes + 2048 * k);
        WgmmaN64RowsB(s[half], xa[k][0], dk);
        if constexpr (!kBf16Products) WgmmaN64RowsB(s[half], xa[k][1], dk);
        if constexpr (kFloat) WgmmaN64RowsB(s[half], xa[k][0], dk + (kLowKeys >> 4));
      }
    }
    WgmmaCommit();
    if constexpr (kSplitY) {
      WgmmaWait<1>();  // Y, while the state's update runs
      scale_y();
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) fragments(OutputOnce{}, va[k], k, [&](int i) { return make_float2(vp[i], vp[i + 1]); });
    WgmmaFence();
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint64_t dp = tile(Stage::kP + 32 * k);
      WgmmaN64KMajorB(y, va[k][0], dp);
      if constexpr (!OutputOnce::value) WgmmaN64KMajorB(y, va[k][1], dp);
      if constexpr (kFloat) WgmmaN64KMajorB(y, va[k][0], dp + (kLowP >> 4));
    }
    WgmmaCommit();
    WgmmaWait<1>();  // the state
    HoldRegisters(s[0]), HoldRegisters(s[1]);
#pragma unroll
    for (int k = 0; k < 4; ++k) HoldParts(StateOnce{}, xa[k]);
  }
  if (chunks > 0) {
    WgmmaWait<0>();
    HoldRegisters(y);
#pragma unroll
    for (int k = 0; k < 4; ++k) HoldParts(OutputOnce{}, va[k]);
    store_o(y, chunks - 1);
  }
  if (!kFloat && threadIdx.x == 0) WaitBulkStoresRead();
  if (state_out) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
#pragma unroll
      for (int i = 0; i < 32; ++i) {
        const int j = column0 + row + TileRow(i % 4), key = 64 * half + TileColumn(i / 4, i % 4);
        if (key < K && j < columns) state_out[(bh * K + key) * columns + j] = s[half][i];
      }
    }
  }
#endif
}

// A segment-parallel walk's starts (LaunchWgmmaParallel), chained: S_1 is segment 0's end, and S_(j+1) = Phi_j S_j + L_j
// for each later segment j, L_j its end from a zero state. states holds each segment's end [segment][bh][K][V] and is
// overwritten: segment j's with S_(j+1), so that segment j's start S_j is then segment j - 1's entry; the last S into
// final_state too (where kept; count >= 2). phis: [segment][bh][K][K], Phi[key][i] the i-th identity column's end.
// blockIdx.x = bh * slices + slice (kChainColumns state columns); a thread per two keys and four columns, so that a
// head's K x V product is spread over V / 16 blocks of 256 threads, each thread's step one 16-byte read of S_j's row
// for eight multiply-adds. (A block per 64 columns, a thread per key and 32 columns reading S_j a float at a time:
// B1 T65536 H16 K=V=128's chain on 32 blocks. With this form and the fix-up's reads below, that call went from 1.87 to
// 1.78 ms on an H100 in bf16, the chain now about 10 us of it: BENCHMARKS.md, 2026-12-07.)
constexpr int kChainThreads = 256, kChainColumns = 16;
__global__ void __launch_bounds__(kChainThreads) ChainSegmentsKernel(int K, int V, int count, int slices, int64_t heads,
                                                                     float* states, const float* phis, float* final_state) {
  static_assert(kChainThreads == 64 * kChainColumns / 4, "ChainSegmentsKernel: a thread per two of 128 keys and four columns");
  __shared__ float4 start[128][kChainColumns / 4];  // S_j's slice [key][columns 4 q ..]
  const int64_t bh = blockIdx.x / slices;
  const int quad = threadIdx.x % (kChainColumns / 4), key0 = 2 * (threadIdx.x / (kChainColumns / 4));
  const int column = blockIdx.x % slices * kChainColumns + 4 * quad;
  // The thread's four elements of row `key` of a segment's [K][V] states (zeros past K and V).
  const auto load = [&](const float* segment_states, int key) {
    float x[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) x[e] = key < K && column + e < V ? segment_states[(bh * K + key) * V + column + e] : 0.f;
    return make_float4(x[0], x[1], x[2], x[3]);
  };
  const auto store = [&](float* to, int key, const float4& x) {
    const float e4[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      if (key < K && column + e < V) to[(bh * K + key) * V + column + e] = e4[e];
    }
  };
  const auto add_times = [](float4& acc, float f, const float4& x) {  // acc += f x
    acc.x = fmaf(f, x.x, acc.x), acc.y = fmaf(f, x.y, acc.y), acc.z = fmaf(f, x.z, acc.z), acc.w = fmaf(f, x.w, acc.w);
  };
  start[key0][quad] = load(states, key0), start[key0 + 1][quad] = load(states, key0 + 1);
  __syncthreads();
  for (int j = 1; j < count; ++j) {
    float* own = states + j * heads * K * V;
    const float* phi0 = phis + ((j * heads + bh) * K + key0) * K;  // (read only where key0 < K)
    const float* phi1 = phi0 + K;                                   // (where key0 + 1 < K)
    float4 acc0 = load(own, key0), acc1 = load(own, key0 + 1);
    const int rows = key0 < K ? K : 0;
    const bool second = key0 + 1 < K;
#pragma unroll 4
    for (int i = 0; i < rows; ++i) {
      const float4 x = start[i][quad];
      const float f0 = phi0[i], f1 = second ? phi1[i] : 0.f;
      add_times(acc0, f0, x), add_times(acc1, f1, x);
    }
    __syncthreads();  // every thread has read S_j
    start[key0][quad] = acc0, start[key0 + 1][quad] = acc1;
    store(own, key0, acc0), store(own, key0 + 1, acc1);
    if (final_state && j == count - 1) store(final_state, key0, acc0), store(final_state, key0 + 1, acc1);
    __syncthreads();
  }
}

// o += C S_j over a segment-parallel walk's segments j >= 1 (S_j: states' entry j - 1 after ChainSegmentsKernel): each
// 64-token chunk's C [token][key] and S_j's 64 columns [key][column] by mma.sync. bf16 storage: C as the walk stored
// it, S_j rounded to bf16 once (C S_j feeds only o, as S Q^T in the walk: OutputOnce), o read and the sum rounded to
// bf16 again; float32: S_j and C in two bf16 parts (hi and lo), hi·hi + hi·lo + lo·hi (the float32 walk's products),
// o in float32.
// blockIdx.x = (((segment - 1) * heads + bh) * groups + group) * runs + run, over `run_chunks` chunks of the segment; a
// warp per 16 tokens of a chunk. S_j's columns are staged permuted (FixColumn), so that each thread's accumulators
// are 8 adjacent columns of o in each half of the block's 64: o is read and written 16 bytes a thread (pair by pair,
// half of each 32-byte sector had gone unused, and the o accesses were 32 instructions a thread and chunk instead of 8).
// Both changes, on an H100 (2026-12-07): bf16 B1 T65536 H16 1.71 -> 1.62 ms, T262144 H8 4.07 -> 3.85.
// How C reaches the products differs by storage. bf16: a chunk's C is staged in shared memory by cp.async and read
// by ldmatrix, o read before it. float32: each warp reads its tokens' C straight into the products' A fragments, 8
// adjacent keys (two 16-byte loads) a load, split into its parts in registers, with no staging and no barrier between
// chunks, and o read after the products (C's fragments are dead by then: 128 registers); for that the products'
// depth is permuted, S_j's rows staged by FixKeyRow. On an H100 (2026-12-07) that took float32 B1 T262144 H8 from
// 8.18 to 7.61 ms, but made bf16 1-1.3% slower (1.628 -> 1.645 ms at T65536 H16, 3.645 -> 3.693 at T262144), so bf16
// keeps its staging (BENCHMARKS.md).
constexpr int kFixThreads = 128, kFixStride = kWgmmaColumns + 8, kFixCStride = 128 + 8;
// The column of o (of the block's 64) that column c of n8 tile n of the products holds: thread q's columns 2q and
// 2q + 1 of tiles 4h .. 4h + 3 are o's 32 h + 8 q .. 32 h + 8 q + 7.
__host__ __device__ constexpr int FixColumn(int n, int c) { return 32 * (n / 4) + 8 * (c / 2) + 2 * (n % 4) + c % 2; }
// float32: the depth (row of the staged S_j) that key p takes. Thread q = lane % 4 reads each of its rows' keys 32 b +
// 8 q .. 32 b + 8 q + 7 as its A fragments of depth steps 2 b (keys + 0 .. 3) and 2 b + 1 (+ 4 .. 7): in step s,
// depths 2 q, 2 q + 1 (fragment registers 0 and 1) and 2 q + 8, 2 q + 9 (2 and 3).
__host__ __device__ constexpr int FixKeyRow(int p) {
  return 32 * (p / 32) + 16 * (p % 8 / 4) + 8 * (p % 4 / 2) + 2 * (p % 32 / 8) + p % 2;
}
// S_j's parts, and (bf16) the staged C.
template <typename T>
constexpr size_t FixShared() { return (sizeof(T) == 4 ? 2 * 128 * kFixStride : 128 * kFixStride + kC * kFixCStride) * 2; }
// 8 adjacent keys of a float32 row of C from `from` (key `key`), as bf16 pairs in two parts; keys past `K` (or a row
// past the chunk: from null) zero. `fast`: the 8 keys lie wholly inside K or wholly past it, 16-byte aligned.
__device__ __forceinline__ void LoadFixKeys(const float* from, int key, int K, bool fast, uint32_t (&hi)[4], uint32_t (&lo)[4]) {
  float x[8] = {};
  if (fast) {
    if (from && key < K) LoadEight(from, x);
  } else {
#pragma unroll
    for (int e = 0; e < 8; ++e) x[e] = from && key + e < K ? from[e] : 0.f;
  }
#pragma unroll
  for (int w = 0; w < 4; ++w) SplitBf16(x[2 * w], x[2 * w + 1], hi[w], lo[w]);
}
template <typename T>
__global__ void __launch_bounds__(kFixThreads) FixSegmentOutputsKernel(const ChunkArgs<T> a, int groups, int64_t segment_chunks,
                                                                       int runs, int run_chunks, int64_t c_token0,
                                                                       const float* states, const T* C) {
  constexpr bool kFloat = sizeof(T) == 4;
  LS_SHARED(float4, shared4);
  __nv_bfloat16* s_hi = reinterpret_cast<__nv_bfloat16*>(shared4);  // [depth][column] (bf16: S_j rounded once)
  __nv_bfloat16* s_lo = s_hi + 128 * kFixStride;                     // float32: the low part
  __nv_bfloat16* c_tile = s_hi + 128 * kFixStride;                   // bf16: [token][key]
  const int K = a.K, V = a.V;
  const int64_t heads = a.batch * a.value_heads;
  const int64_t item = blockIdx.x / runs, segment = 1 + item / (heads * groups), bh = item / groups % heads;
  const int64_t b = bh / a.value_heads, hv = bh % a.value_heads;
  const int column0 = item % groups * kWgmmaColumns, run = blockIdx.x % runs;
  const float* start = states + ((segment - 1) * heads + bh) * K * V;
  for (int i = threadIdx.x; i < 128 * kWgmmaColumns / 2; i += kFixThreads) {
    const int key = i / (kWgmmaColumns / 2), c = 2 * (i % (kWgmmaColumns / 2)), j = column0 + FixColumn(c / 8, c % 8);
    const float x0 = key < K && j < V ? start[key * V + j] : 0.f, x1 = key < K && j + 1 < V ? start[key * V + j + 1] : 0.f;
    if constexpr (kFloat) {
      const int row = FixKeyRow(key);
      uint32_t hi, lo;
      SplitBf16(x0, x1, hi, lo);
      *reinterpret_cast<uint32_t*>(s_hi + row * kFixStride + c) = hi;
      *reinterpret_cast<uint32_t*>(s_lo + row * kFixStride + c) = lo;
    } else {
      *reinterpret_cast<uint32_t*>(s_hi + key * kFixStride + c) = PackBf16(x0, x1);
    }
  }
  if constexpr (kFloat) __syncthreads();  // (bf16: at each chunk's start)
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t c_stride = a.value_heads * K;
  const bool fast = K % 8 == 0 && reinterpret_cast<uintptr_t>(C) % 16 == 0;  // (rows of C then 16-byte aligned too)
  const int64_t segment_end = min(a.seqlen, (segment + 1) * segment_chunks * kC);
  const int64_t t_first = (segment * segment_chunks + static_cast<int64_t>(run) * run_chunks) * kC;
  const int64_t t_end = min(segment_end, t_first + static_cast<int64_t>(run_chunks) * kC);
  // The thread's 8 adjacent columns of o in half g of the block's (tiles 4 g .. 4 g + 3) and row half h (TileRow(2 h)
  // of the warp's 16 tokens): element e is acc[4 g + e / 2][2 h + e % 2]. Whole 16-byte pieces where V % 8 == 0 and
  // o is 16-byte aligned (a piece then lies wholly inside V or wholly past it), else element by element.
  const int lane_column = column0 + 8 * (lane % 4);
  const bool o_fast = V % 8 == 0 && reinterpret_cast<uintptr_t>(a.o) % 16 == 0;
  const auto o_at = [&](int64_t t0, int g, int h, int tokens) -> T* {
    const int t = 16 * warp + TileRow(2 * h), j = lane_column + 32 * g;
    return t < tokens && j < V ? a.o + ((b * a.seqlen + t0 + t) * a.value_heads + hv) * V + j : nullptr;
  };
  const auto valid = [&](int g, int e) { return lane_column + 32 * g + e < V; };
  // o as the walk wrote it, every piece read at once: read and written piece by piece, each read had waited behind the
  // store before it (they may alias for all the compiler knows).
  const auto read_o = [&](int64_t t0, int tokens, float (&old)[2][2][8]) {
#pragma unroll
    for (int g = 0; g < 2; ++g) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const T* o = o_at(t0, g, h, tokens);
#pragma unroll
        for (int e = 0; e < 8; ++e) old[g][h][e] = 0.f;
        if (!o) continue;
        if (!o_fast) {
#pragma unroll
          for (int e = 0; e < 8; ++e) old[g][h][e] = valid(g, e) ? ToFloat(o[e]) : 0.f;
        } else {
          LoadEight(o, old[g][h]);
        }
      }
    }
  };
  for (int64_t t0 = t_first; t0 < t_end; t0 += kC) {
    if constexpr (!kFloat) __syncthreads();  // (the previous chunk's C read)
    const int tokens = static_cast<int>(min(static_cast<int64_t>(kC), t_end - t0));
    float old[2][2][8];
    // float32: C's rows TileRow(0) and TileRow(2) of the warp's 16 tokens (r), keys 32 k + 8 (lane % 4) .. + 7 (k).
    uint32_t c_hi[2][4][4], c_lo[2][4][4];
    if constexpr (kFloat) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int t = 16 * warp + TileRow(2 * r);
        const float* row = t < tokens ? C + ((b * (a.seqlen - c_token0) + t0 + t - c_token0) * a.value_heads + hv) * K : nullptr;
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const int key = 32 * k + 8 * (lane % 4);
          LoadFixKeys(row ? row + key : nullptr, key, K, fast, c_hi[r][k], c_lo[r][k]);
        }
      }
    } else {
      read_o(t0, tokens, old);
      const T* c_rows = C + ((b * (a.seqlen - c_token0) + t0 - c_token0) * a.value_heads + hv) * K;
      StageBf16Tile<kC, 128, kFixThreads>(c_tile, kFixCStride, c_rows, c_stride, tokens, K, fast);
      CommitCopies();
      WaitCopies<0>();
      __syncthreads();
    }
    float acc[8][4] = {};
#pragma unroll
    for (int s = 0; s < 8; ++s) {
      uint32_t af[4], al[4];
      if constexpr (kFloat) {  // depth step s: keys 32 (s / 2) + 8 q + 4 (s % 2) + 0, 1 (registers 0, 1) and + 2, 3
        const int k = s / 2, w = 2 * (s % 2);
        af[0] = c_hi[0][k][w], af[1] = c_hi[1][k][w], af[2] = c_hi[0][k][w + 1], af[3] = c_hi[1][k][w + 1];
        al[0] = c_lo[0][k][w], al[1] = c_lo[1][k][w], al[2] = c_lo[0][k][w + 1], al[3] = c_lo[1][k][w + 1];
      } else {
        LoadMatrices<false>(af, c_tile + (16 * warp + MatrixRow(lane, 1)) * kFixCStride + 16 * s + MatrixColumn(lane, 2));
      }
#pragma unroll
      for (int n = 0; n < 4; ++n) {
        uint32_t bh_[4], bl[4];
        const int at = (16 * s + MatrixRow(lane, 1)) * kFixStride + 16 * n + MatrixColumn(lane, 2);
        LoadMatrices<true>(bh_, s_hi + at);
        MmaBf16(acc[2 * n], af, bh_[0], bh_[1]);
        MmaBf16(acc[2 * n + 1], af, bh_[2], bh_[3]);
        if constexpr (kFloat) {
          LoadMatrices<true>(bl, s_lo + at);
          MmaBf16(acc[2 * n], af, bl[0], bl[1]);
          MmaBf16(acc[2 * n + 1], af, bl[2], bl[3]);
          MmaBf16(acc[2 * n], al, bh_[0], bh_[1]);
          MmaBf16(acc[2 * n + 1], al, bh_[2], bh_[3]);
        }
      }
    }
    if constexpr (kFloat) read_o(t0, tokens, old);
#pragma unroll
    for (int g = 0; g < 2; ++g) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        T* o = o_at(t0, g, h, tokens);
        if (!o) continue;
        float x[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) x[e] = old[g][h][e] + acc[4 * g + e / 2][2 * h + e % 2];
        if (!o_fast) {
#pragma unroll
          for (int e = 0; e < 8; ++e) {
            if (valid(g, e)) StoreAs(o + e, x[e]);
          }
        } else {
          StoreEight(o, x);
        }
      }
    }
  }
}

// A segment-parallel walk's layout (LaunchWgmmaParallel, the emulated test): `count` segments of `length` chunks (the
// last one's fewer), walked in rounds over the same chunks of each; segment j's value columns' state at states +
// j heads K V, its identity columns' at phis + j heads K K.
struct SegmentPlan {
  int count, value_groups, identity_groups;
  int64_t heads, chunks, length, K, V;
  float* states;
  float* phis;
  float* c = nullptr;  // float32 storage: the identity columns' outputs (WalkSegments::c)

  // For `count` segments asked (one per `length` chunks, so that none is empty).
  SegmentPlan(int asked, int64_t heads_, int64_t chunks_, int64_t key_dim, int64_t value_dim)
      : heads(heads_), chunks(chunks_), length((chunks_ + asked - 1) / asked), K(key_dim), V(value_dim) {
    count = static_cast<int>((chunks + length - 1) / length);
    value_groups = static_cast<int>((V + kWgmmaColumns - 1) / kWgmmaColumns);
    identity_groups = static_cast<int>((K + kWgmmaColumns - 1) / kWgmmaColumns);
  }
  int64_t c_token0() const { return length * kC; }
  int64_t walk_blocks() const { return heads * value_groups + (count - 1) * heads * (value_groups + identity_groups); }
  int64_t states_floats() const { return count * heads * K * V; }
  int64_t phis_floats() const { return count * heads * K * K; }
  // The walks over chunks [offset, offset + m) of each segment (w: their records, segment-major, m a head), segment 0
  // from `initial` in the first round (offset 0), the others from zeros and the identity.
  WalkSegments Round(int64_t offset, int64_t m, const float* initial) const {
    WalkSegments walks = {};
    walks.count = count, walks.value_groups = value_groups, walks.identity_groups = identity_groups;
    walks.c_token0 = c_token0(), walks.c = c;
    for (int j = 0; j < count; ++j) {
      walks.first_chunk[j] = j * length + offset;
      walks.chunks[j] = std::max<int64_t>(0, std::min(m, std::min(chunks, (j + 1) * length) - walks.first_chunk[j]));
      float* state = states + j * heads * K * V;
      float* phi = phis + j * heads * K * K;
      walks.state_in[j] = offset > 0 ? state : j == 0 ? initial : nullptr;
      walks.state_out[j] = state;
      walks.phi_in[j] = offset > 0 ? phi : nullptr;
      walks.phi_out[j] = phi;
    }
    return walks;
  }
  // Segment j's records in a round's workspace w (for its prepare kernel).
  WorkspaceBf16 Records(WorkspaceBf16 w, int j) const {
    w.sets += j * heads * w.chunks * w.record, w.decay += j * heads * w.chunks;
    return w;
  }
};

// The warpgroup walks' segments (LaunchWgmma) and rounds (LaunchWgmmaParallel) past kOverlapChunks chunks: the first
// one short, so that little of the prepare kernel is not under a walk, the others a quarter of the sequence (of a
// segment walked at once); none more than a workspace slot holds, the first included. Up to kOverlapChunks, one
// segment and no walk beside a prepare kernel: each boundary between walks costs about 15 us (on an H100, B1 T4096 H16
// K=V=128 in four segments of 16 chunks took 0.191 ms against 0.177 in one).
constexpr int64_t kFirstSegment = 16, kOverlapChunks = 256;
// The chunks of segment (round) i in workspace slots of `slot` chunks a head, `left` chunks still to walk.
inline int64_t SegmentChunks(int64_t i, int64_t slot, int64_t left, bool short_first) {
  return std::min(i == 0 && short_first ? std::min(kFirstSegment, slot) : slot, left);
}

// The prepare kernel that writes the warpgroup walk's record for storage T.
template <typename T>
constexpr auto WgmmaPrepareKernel() {
  if constexpr (sizeof(T) == 4) return WgmmaPrepareKernelFloat;
  else return PrepareKernelBf16<128, true, true>;
}

// The kernels and workspace of each storage: float32 (3xTF32 products) or bf16 (bf16 products).
template <typename T>
using WorkspaceOf = std::conditional_t<sizeof(T) == 2, WorkspaceBf16, Workspace>;
template <typename T>
using PrepareKernelFunction = void (*)(const ChunkArgs<T>, const WorkspaceOf<T>, int64_t);
using StateKernelFunction = void (*)(const ChunkArgs<float>, const Workspace, int64_t, int, const float*, float*);
using StateKernelFunctionBf16 = void (*)(const ChunkArgs<__nv_bfloat16>, const WorkspaceBf16, const QkTiles, int64_t, int,
                                        const float*, float*);
// By padded key dim / 16 - 1.
template <bool kTForm>
constexpr PrepareKernelFunction<__nv_bfloat16> kPrepareKernelsBf16[kMaxPadded / 16] = {
    PrepareKernelBf16<16, kTForm>, PrepareKernelBf16<32, kTForm>, PrepareKernelBf16<48, kTForm>, PrepareKernelBf16<64, kTForm>,
    PrepareKernelBf16<80, kTForm>, PrepareKernelBf16<96, kTForm>, PrepareKernelBf16<112, kTForm>, PrepareKernelBf16<128, kTForm>};
template <int kCols>
constexpr StateKernelFunction kStateKernels[kMaxPadded / 16] = {
    StateKernel<16, kCols>, StateKernel<32, kCols>, StateKernel<48, kCols>, StateKernel<64, kCols>,
    StateKernel<80, kCols>, StateKernel<96, kCols>, StateKernel<112, kCols>, StateKernel<128, kCols>};
template <int kCols>
constexpr StateKernelFunctionBf16 kStateKernelsBf16[kMaxPadded / 16] = {
    StateKernelBf16<16, kCols>, StateKernelBf16<32, kCols>, StateKernelBf16<48, kCols>, StateKernelBf16<64, kCols>,
    StateKernelBf16<80, kCols>, StateKernelBf16<96, kCols>, StateKernelBf16<112, kCols>, StateKernelBf16<128, kCols>};

// The prepare kernel for state blocks of `columns` (bf16: the form they read).
template <typename T>
PrepareKernelFunction<T> PrepareKernelFor(int Kp, int columns) {
  if constexpr (sizeof(T) == 2) return TForm(columns) ? kPrepareKernelsBf16<true>[Kp / 16 - 1] : kPrepareKernelsBf16<false>[Kp / 16 - 1];
  else return PrepareKernel;
}
StateKernelFunction StateKernelFor(int Kp, int columns) {
  const int i = Kp / 16 - 1;
  return columns == 64   ? kStateKernels<64>[i]
         : columns == 32 ? kStateKernels<32>[i]
         : columns == 16 ? kStateKernels<16>[i]
                         : kStateKernels<8>[i];
}
StateKernelFunctionBf16 StateKernelBf16For(int Kp, int columns) {
  const int i = Kp / 16 - 1;
  return columns == 64   ? kStateKernelsBf16<64>[i]
         : columns == 32 ? kStateKernelsBf16<32>[i]
         : columns == 16 ? kStateKernelsBf16<16>[i]
                         : kStateKernelsBf16<8>[i];
}

// The bf16 elements of a record's set in the workspace (with or without q and k).
int SetElementsBf16(int Kp, bool qk_in_set, bool t_form) {
  const SetLayout layout(Kp, t_form);
  return qk_in_set ? layout.elements() : layout.at(SetLayout::kQ);
}
// Bytes of one (batch, value head, chunk) record, and the workspace's arrays carved from `base` for `records`.
template <typename T>
int64_t RecordBytes(int Kp, int Vp, bool qk_in_set, bool t_form) {
  // bf16: the set, U (W/U form) and the decay, U and the decay float32; float32: the set and the decay.
  if constexpr (sizeof(T) == 2) return 2 * SetElementsBf16(Kp, qk_in_set, t_form) + 4 * ((t_form ? 0 : kC * Vp) + 1);
  else return 4 * (FloatSet(Kp).floats() + 1);
}
void Carve(Workspace& w, void* base, int64_t records, int Kp, int, bool, bool) {
  w.sets = static_cast<float*>(base), w.decay = w.sets + records * FloatSet(Kp).floats();
}
void Carve(WorkspaceBf16& w, void* base, int64_t records, int Kp, int Vp, bool qk_in_set, bool t_form) {
  w.sets = static_cast<__nv_bfloat16*>(base), w.record = SetElementsBf16(Kp, qk_in_set, t_form), w.qk_in_set = qk_in_set;
  w.U = t_form ? nullptr : reinterpret_cast<float*>(w.sets + records * w.record);
  w.decay = reinterpret_cast<float*>(w.sets + records * w.record) + (t_form ? 0 : records * kC * Vp);
}

#ifndef LONGSEQ_CUDA_EMULATE
constexpr int kColumnChoices[] = {64, 32, 16, 8};
// bf16 past key dim 64: the 64-column blocks' walk (T form) would spill its registers (128 a thread at 512 threads).
constexpr int kColumnChoicesBf16PastKey64[] = {32, 16, 8};
// State columns per state-kernel block: the walk over the chunks is a chain per block, so the GPU needs at least about
// as many blocks as it has SMs (an SM holds one: their staging takes 130-220 KB); fewer columns make more of them, each
// staging the same chunk operands (copying each set once per cluster of a head's blocks instead, by multicast, made the
// bf16 walk a third slower on an H200: BENCHMARKS.md). The widest choice that fits the SM (Fits: all of them on sm_90)
// and already gives three quarters of the SMs a block, else the narrowest. Measured on an H200 in BENCHMARKS.md (B1 H16
// K=V=128: 16 columns, 1.3x faster than 32; B8 H16 K=V=64: 64 columns, one wave of 128 blocks instead of two of 256,
// in bf16 and in float32, where it took B8 T2048 from 0.61 to 0.55 ms).
template <typename T, size_t kChoices>
int WidestColumns(const int (&choices)[kChoices], int64_t heads, int64_t value_dim, int Kp) {
  for (int columns : choices) {
    if (Fits<T>(Kp, columns) && heads * ((value_dim + columns - 1) / columns) * 4 >= 3 * Multiprocessors()) return columns;
  }
  return choices[kChoices - 1];
}
template <typename T>
int StateColumns(int64_t heads, int64_t value_dim, int Kp) {
  if constexpr (sizeof(T) == 2) {
    return Kp <= 64 ? WidestColumns<T>(kColumnChoices, heads, value_dim, Kp)
                    : WidestColumns<T>(kColumnChoicesBf16PastKey64, heads, value_dim, Kp);
  }
  else return WidestColumns<T>(kColumnChoices, heads, value_dim, Kp);
}

// The kernels' arguments for storage T.
template <typename T>
ChunkArgs<T> ArgsOf(const ls_delta_rule_params& p, int Kp, int Vp) {
  return {p.batch, p.seqlen, p.heads, p.value_heads, static_cast<int>(p.key_dim), static_cast<int>(p.value_dim),
          Kp, Vp, reinterpret_cast<const T*>(p.q), reinterpret_cast<const T*>(p.k), reinterpret_cast<const T*>(p.v),
          p.beta, p.g, reinterpret_cast<T*>(p.o), p.scale, p.use_qk_l2norm != 0};
}
// The state carried from segment to segment: the final state, or where none is kept and there are several segments,
// a temporary one (in `temporary`); null where neither is needed.
ls_status CarriedState(const ls_delta_rule_params& p, int64_t heads, bool segments, DeviceScratch& temporary, float*& state) {
  state = p.final_state;
  if (!state && segments) {
    if (ls_status s = temporary.Allocate(4 * heads * p.key_dim * p.value_dim)) return s;
    state = temporary.get<float>();
  }
  return LS_OK;
}

// Whether storage at padded key dim 128 walks on warpgroup products (WgmmaStateKernel; its tiles into `tiles`): on a
// device that runs this build's sm_90a code and gives a block the walk's shared memory, where the tensor maps can be
// made (float32: v's rows a multiple of 16 bytes), unless LONGSEQ_CUDA_DELTA_WGMMA is 0.
bool WalksOnWgmma(const ls_delta_rule_params& p, int Kp, WalkTiles& tiles) {
  const char* setting = std::getenv("LONGSEQ_CUDA_DELTA_WGMMA");
  const size_t shared = p.storage == LS_BFLOAT16 ? WgmmaStateShared<__nv_bfloat16>() : WgmmaStateShared<float>();
  if (Kp != 128 || !HasWgmma() || shared > static_cast<size_t>(SharedMemoryOptIn()) || (setting && std::strcmp(setting, "0") == 0)) {
    return false;
  }
  if (p.storage != LS_BFLOAT16) {
    // (the float32 walk's o and C offsets within a chunk are 32-bit)
    return std::max(p.value_dim, p.key_dim) * p.value_heads * kC < (int64_t{1} << 32) &&
           EncodeTokenTiles(&tiles.v, p.v, p.batch, p.seqlen, p.value_heads, p.value_dim, 32, kC, 128, 4);
  }
  return EncodeTokenTiles(&tiles.q, p.q, p.batch, p.seqlen, p.heads, p.key_dim, 64, kC, 128) &&
         EncodeTokenTiles(&tiles.k, p.k, p.batch, p.seqlen, p.heads, p.key_dim, 64, kC, 128) &&
         EncodeTokenTiles(&tiles.v, p.v, p.batch, p.seqlen, p.value_heads, p.value_dim, 64, kC, 128) &&
         EncodeTokenTiles(&tiles.o, p.o, p.batch, p.seqlen, p.value_heads, p.value_dim, 64, kC, 128);
}

// A CUDA event or stream of this call, destroyed at its end (the work queued on it still runs).
struct CallEvent {
  cudaEvent_t event = nullptr;
  ~CallEvent() {
    if (event) cudaEventDestroy(event);
  }
};
struct CallStream {
  cudaStream_t stream = nullptr;
  ~CallStream() {
    if (stream) cudaStreamDestroy(stream);
  }
};
// At its end (whichever way the call returns): `stream` waits for everything queued on `side` so far, so that what is
// released on `stream` afterwards (the workspace) outlives the work on `side`.
struct JoinStreams {
  cudaStream_t stream, side;
  ~JoinStreams() {
    cudaEvent_t done;
    if (side && cudaEventCreateWithFlags(&done, cudaEventDisableTiming) == cudaSuccess) {
      if (cudaEventRecord(done, side) == cudaSuccess) cudaStreamWaitEvent(stream, done, 0);
      cudaEventDestroy(done);
    }
  }
};

// Walks beside prepare kernels (LaunchWgmma past kOverlapChunks, LaunchWgmmaParallel): the walks on a stream of the
// highest priority, each after its round's prepare kernels (the call's stream) wrote workspace slot round % 2, and
// each round's prepare kernels after the walk two rounds back, which read that slot.
struct BesideWalks {
  CallStream side;
  CallEvent prepared[2], walked[2];

  ls_status Create() {
    int least = 0, greatest = 0;
    LS_CUDA_TRY(cudaDeviceGetStreamPriorityRange(&least, &greatest), "deltaRule (chunked) streams");
    LS_CUDA_TRY(cudaStreamCreateWithPriority(&side.stream, cudaStreamNonBlocking, greatest), "deltaRule (chunked) streams");
    for (int i = 0; i < 2; ++i) {
      LS_CUDA_TRY(cudaEventCreateWithFlags(&prepared[i].event, cudaEventDisableTiming), "deltaRule (chunked) events");
      LS_CUDA_TRY(cudaEventCreateWithFlags(&walked[i].event, cudaEventDisableTiming), "deltaRule (chunked) events");
    }
    return LS_OK;
  }
  // Before round i's prepare kernels, on `stream`.
  ls_status BeforePrepare(cudaStream_t stream, int i) {
    if (i >= 2) LS_CUDA_TRY(cudaStreamWaitEvent(stream, walked[i % 2].event, 0), "deltaRule (chunked) events");
    return LS_OK;
  }
  // After them: round i's walk waits for them.
  ls_status AfterPrepare(cudaStream_t stream, int i) {
    LS_CUDA_TRY(cudaEventRecord(prepared[i % 2].event, stream), "deltaRule (chunked) events");
    LS_CUDA_TRY(cudaStreamWaitEvent(side.stream, prepared[i % 2].event, 0), "deltaRule (chunked) events");
    return LS_OK;
  }
  // After round i's walk.
  ls_status AfterWalk(int i) {
    LS_CUDA_TRY(cudaEventRecord(walked[i % 2].event, side.stream), "deltaRule (chunked) events");
    return LS_OK;
  }
};

// A workspace slot's records for the warpgroup walk: `records` of `chunks` chunks a head (records / chunks heads), then
// their decays.
WorkspaceBf16 SlotRecords(char* slot, int record_elements, int64_t records, int64_t chunks) {
  WorkspaceBf16 w = {};
  w.sets = reinterpret_cast<__nv_bfloat16*>(slot), w.record = record_elements, w.qk_in_set = false, w.chunks = chunks;
  w.decay = reinterpret_cast<float*>(w.sets + records * w.record);
  return w;
}

// The warpgroup walks' workspace: float32's records are twice bf16's, so its workspace is too (512 MB), for as many
// chunks a round. On an H100, B1 K=V=128 float32, two rounds: T65536 H16 3.83 -> 3.76 ms, T262144 H8 9.11 -> 8.93 against
// 256 MB (BENCHMARKS.md, 2026-12-07).
template <typename T>
constexpr int64_t WgmmaWorkspaceBytes() { return kWorkspaceBytes * (sizeof(T) == 4 ? 2 : 1); }

// The warpgroup walk a call takes (bf16: with bf16 products where it allows them), plain or segmented.
template <typename T, bool kSegmented>
auto WgmmaWalkFor(const ls_delta_rule_params& p) {
  if constexpr (sizeof(T) == 2) {
    if (p.allow_bf16_products) return WgmmaStateKernel<T, true, kSegmented>;
  }
  return WgmmaStateKernel<T, false, kSegmented>;
}
// The shared memory a walk block asks for: enough that no prepare block shares its SM (the walk issues from one warp
// a scheduler; a prepare block beside it would take its issue slots: on an H100, B1 T65536 H16 in bf16 1.86 -> 1.87
// ms, T262144 H8 4.47 -> 4.54, BENCHMARKS.md 2026-12-07).
template <typename T>
size_t WgmmaWalkShared() {
  return std::max(WgmmaStateShared<T>(), static_cast<size_t>(SharedMemoryPerMultiprocessor()) - WgmmaPrepareShared<T>() - 1024);
}
// The shared memory those walks may take (every variant of T's), and their prepare kernel's.
template <typename T, bool kSegmented>
cudaError_t OptInWgmmaWalks() {
  cudaError_t error = cudaFuncSetAttribute(WgmmaPrepareKernel<T>(), cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(WgmmaPrepareShared<T>()));
  if (error == cudaSuccess) {
    error = cudaFuncSetAttribute(WgmmaStateKernel<T, false, kSegmented>, cudaFuncAttributeMaxDynamicSharedMemorySize, SharedMemoryOptIn());
  }
  if constexpr (sizeof(T) == 2) {
    if (error == cudaSuccess) {
      error = cudaFuncSetAttribute(WgmmaStateKernel<T, true, kSegmented>, cudaFuncAttributeMaxDynamicSharedMemorySize, SharedMemoryOptIn());
    }
  }
  return error;
}

// The walk on warpgroup products: its prepare kernel (WgmmaSet records) and state kernel, segment by segment, each
// segment's walk beside the next one's prepare kernel. The walk takes an SM per block of 64 state columns (B1 H16
// K=V=128: 32 of 132), so the prepare kernel runs on the rest: the walks go on a stream of the highest priority, each
// after its segment's prepare kernel (an event), and the prepare kernels on the call's stream, each writing a slot
// of the workspace (two) once the walk two segments back has read it; the call's stream then waits for the last walk.
// No prepare block shares a walk block's SM (WgmmaWalkShared).
template <typename T>
ls_status LaunchWgmma(const ls_delta_rule_params& p, const WalkTiles& tiles, cudaStream_t stream) {
  constexpr int Kp = 128, record_elements = WgmmaRecordElements<T>();
  const int64_t heads = p.batch * p.value_heads, chunks = (p.seqlen + kC - 1) / kC;
  const int groups = static_cast<int>((p.value_dim + kWgmmaColumns - 1) / kWgmmaColumns);
  const int Vp = static_cast<int>((p.value_dim + kColumnPad - 1) / kColumnPad * kColumnPad);
  const int64_t record_bytes = 2 * record_elements + 4;  // the record and the decay
  const bool overlap = chunks > kOverlapChunks;
  const int64_t per_slot = std::max<int64_t>(1, WorkspaceLimit(WgmmaWorkspaceBytes<T>()) / (overlap ? 2 : 1) / (heads * record_bytes));
  const int64_t segment = std::min(per_slot, overlap ? std::max(kFirstSegment, (chunks + 3) / 4) : chunks);
  if (heads * groups >= (int64_t{1} << 31) || heads * segment >= (int64_t{1} << 31)) {
    return ls::Fail(LS_INVALID_ARGUMENT, "deltaRule on the GPU: batch * value_heads * ceil(value_dim / 64) must be below 2^31");
  }
  const auto prepare = WgmmaPrepareKernel<T>();
  const size_t prepare_shared = WgmmaPrepareShared<T>(), walk_shared = WgmmaWalkShared<T>();
  LS_CUDA_TRY(Once([&] { return OptInWgmmaWalks<T, false>(); }), "deltaRule");
  BesideWalks beside;
  if (overlap) {
    if (ls_status s = beside.Create()) return s;
  }
  const cudaStream_t walks = overlap ? beside.side.stream : stream;
  const int64_t slot_bytes = (heads * segment * record_bytes + 255) / 256 * 256;  // (bulk copies: 16-byte aligned)
  DeviceScratch workspace(stream), temporary_state(stream);
  const JoinStreams join = {stream, overlap ? beside.side.stream : nullptr};  // before the workspace's release
  if (ls_status s = workspace.Allocate((overlap ? 2 : 1) * slot_bytes)) return s;
  float* state;
  if (ls_status s = CarriedState(p, heads, segment < chunks, temporary_state, state)) return s;
  const ChunkArgs<T> a = ArgsOf<T>(p, Kp, Vp);
  const auto walk = WgmmaWalkFor<T, false>(p);
  int64_t first = 0;
  for (int i = 0; first < chunks; ++i) {
    const int slot = overlap ? i % 2 : 0;
    const int64_t m = SegmentChunks(i, segment, chunks - first, overlap);
    const WorkspaceBf16 w = SlotRecords(workspace.get<char>() + slot * slot_bytes, record_elements, heads * m, m);
    if (overlap) {
      if (ls_status s = beside.BeforePrepare(stream, i)) return s;
    }
    prepare<<<static_cast<unsigned>(heads * w.chunks), kThreads, prepare_shared, stream>>>(a, w, first);
    LS_CUDA_TRY(cudaGetLastError(), "deltaRule (chunked) prepare launch");
    if (overlap) {
      if (ls_status s = beside.AfterPrepare(stream, i)) return s;
    }
    const float* state_in = first == 0 ? p.initial_state : state;
    walk<<<static_cast<unsigned>(heads * groups), kWalkThreads, walk_shared, walks>>>(
        a, w, tiles, OneWalk(first, w.chunks, groups, state_in, state));
    LS_CUDA_TRY(cudaGetLastError(), "deltaRule (chunked) state launch");
    if (overlap) {
      if (ls_status s = beside.AfterWalk(i)) return s;
    }
    first += w.chunks;
  }
  return LS_OK;  // (join: the call's stream after the last walk)
}

// Segments a warpgroup walk past kOverlapChunks is split into and walked at once (LaunchWgmmaParallel): the most, up to
// kMaxWalkSegments, whose blocks take at most `eighths` eighths of the SMs (the prepare kernel runs on the rest), else
// 1 (the plain walk). Launch gives bf16 seven; six with bf16 products, whose cheaper walk leaves the prepare kernel the
// longer part, which wants more SMs; float32 six as well (WgmmaPrepareKernelFloat). On an H100, B1 K=V=128, 2026-12-07
// (fix-up of 9855e97): bf16 T262144 H8 3 segments (80 blocks) 3.82-3.86 ms, 4 (112 blocks) 3.62-3.64, but with bf16
// products 3.01-3.02 against 3.16-3.18. On an H200, 2026-12-07, float32 with WgmmaPrepareKernelFloat: T65536 H16 one
// walk 3.32-3.36 ms, 2 segments (96 blocks) 2.54-2.58, 3 2.94, 4 3.02-3.09; T262144 H8 2 segments 7.01-7.14, 3 (80
// blocks) 5.69-5.76, 4 6.02-6.29. (With the 3xTF32 PrepareKernel before it a float32 walk in segments hardly paid:
// T65536 3.47 -> 3.31 in 2 segments, T262144 7.23 in 2, 7.33 in 3.) Before: bf16 T65536 H16 2 segments, 96 blocks,
// 2.45 -> 1.88 ms, 3 (160 blocks, past one wave) 2.32.
// LONGSEQ_CUDA_DELTA_SEGMENTS, where set, chooses instead.
int ParallelSegments(int64_t heads, int value_groups, int identity_groups, int eighths) {
  if (const char* setting = std::getenv("LONGSEQ_CUDA_DELTA_SEGMENTS")) {
    const int count = std::atoi(setting);
    return count < 1 ? 1 : count > kMaxWalkSegments ? kMaxWalkSegments : count;
  }
  int count = 1;
  while (count < kMaxWalkSegments &&
         heads * (value_groups + count * (value_groups + identity_groups)) * 8 <= eighths * Multiprocessors()) {
    ++count;
  }
  return count;
}

// The segment-parallel walk (WalkSegments): `count` segments of the sequence walked at once, each round's records of
// every segment prepared beside the walk of the round before (as LaunchWgmma's segments); then the segments' starts
// chained (ChainSegmentsKernel) and C S added to the later segments' o (FixSegmentOutputsKernel).
template <typename T>
ls_status LaunchWgmmaParallel(const ls_delta_rule_params& p, WalkTiles tiles, int count, cudaStream_t stream) {
  constexpr int Kp = 128, record_elements = WgmmaRecordElements<T>();
  const int64_t heads = p.batch * p.value_heads, chunks = (p.seqlen + kC - 1) / kC;
  SegmentPlan plan(count, heads, chunks, p.key_dim, p.value_dim);
  count = plan.count;
  const int64_t length = plan.length, c_token0 = plan.c_token0(), K = p.key_dim, V = p.value_dim;
  const int Vp = static_cast<int>((p.value_dim + kColumnPad - 1) / kColumnPad * kColumnPad);
  const int64_t record_bytes = 2 * record_elements + 4;
  const int64_t per_slot = std::max<int64_t>(1, WorkspaceLimit(WgmmaWorkspaceBytes<T>()) / 2 / (count * heads * record_bytes));
  const int64_t round = std::min(per_slot, std::max(kFirstSegment, (length + 3) / 4));
  const int64_t walk_blocks = plan.walk_blocks();
  const int slices = static_cast<int>((V + kChainColumns - 1) / kChainColumns);  // ChainSegmentsKernel's blocks a head
  if (walk_blocks >= (int64_t{1} << 31) || count * heads * round >= (int64_t{1} << 31) || heads * slices >= (int64_t{1} << 31)) {
    return ls::Fail(LS_INVALID_ARGUMENT, "deltaRule on the GPU: batch * value_heads * ceil(value_dim / 16) must be below 2^31");
  }
  const auto prepare = WgmmaPrepareKernel<T>();
  const size_t prepare_shared = WgmmaPrepareShared<T>(), walk_shared = WgmmaWalkShared<T>();
  const auto walk = WgmmaWalkFor<T, true>(p);
  LS_CUDA_TRY(Once([&] {
    cudaError_t error = OptInWgmmaWalks<T, true>();
    if (error == cudaSuccess) {
      error = cudaFuncSetAttribute(FixSegmentOutputsKernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(FixShared<T>()));
    }
    return error;
  }), "deltaRule");
  DeviceScratch workspace(stream), ends(stream), outputs(stream);
  const int64_t slot_bytes = (count * heads * round * record_bytes + 255) / 256 * 256;
  if (ls_status s = workspace.Allocate(2 * slot_bytes)) return s;
  if (ls_status s = ends.Allocate(4 * (plan.states_floats() + plan.phis_floats()))) return s;
  if (ls_status s = outputs.Allocate(sizeof(T) * p.batch * (p.seqlen - c_token0) * p.value_heads * K)) return s;
  plan.states = ends.get<float>(), plan.phis = plan.states + plan.states_floats();
  T* C = outputs.get<T>();
  if constexpr (sizeof(T) == 4) {
    plan.c = C;
  } else if (!EncodeTokenTiles(&tiles.c, C, p.batch, p.seqlen - c_token0, p.value_heads, p.key_dim, 64, kC, 128)) {
    return ls::Fail(LS_UNAVAILABLE, "deltaRule on the GPU: no tensor map for the segment-parallel walk");
  }
  BesideWalks beside;
  if (ls_status s = beside.Create()) return s;
  const cudaStream_t walks = beside.side.stream;
  const JoinStreams join = {stream, walks};  // before the scratch's release
  const ChunkArgs<T> a = ArgsOf<T>(p, Kp, Vp);
  int64_t offset = 0;
  for (int i = 0; offset < length; ++i) {
    const int64_t m = SegmentChunks(i, round, length - offset, true);
    const WorkspaceBf16 w = SlotRecords(workspace.get<char>() + i % 2 * slot_bytes, record_elements, count * heads * m, m);
    if (ls_status s = beside.BeforePrepare(stream, i)) return s;
    const WalkSegments segments = plan.Round(offset, m, p.initial_state);
    for (int j = 0; j < count; ++j) {
      prepare<<<static_cast<unsigned>(heads * m), kThreads, prepare_shared, stream>>>(a, plan.Records(w, j), segments.first_chunk[j]);
      LS_CUDA_TRY(cudaGetLastError(), "deltaRule (chunked) prepare launch");
    }
    if (ls_status s = beside.AfterPrepare(stream, i)) return s;
    walk<<<static_cast<unsigned>(walk_blocks), kWalkThreads, walk_shared, walks>>>(a, w, tiles, segments);
    LS_CUDA_TRY(cudaGetLastError(), "deltaRule (chunked) state launch");
    if (ls_status s = beside.AfterWalk(i)) return s;
    offset += m;
  }
  ChainSegmentsKernel<<<static_cast<unsigned>(heads * slices), kChainThreads, 0, walks>>>(
      static_cast<int>(K), static_cast<int>(V), count, slices, heads, plan.states, plan.phis, p.final_state);
  LS_CUDA_TRY(cudaGetLastError(), "deltaRule (chunked) chain launch");
  constexpr int kRunChunks = 8;
  const int runs = static_cast<int>((length + kRunChunks - 1) / kRunChunks);
  FixSegmentOutputsKernel<T><<<static_cast<unsigned>((count - 1) * heads * plan.value_groups * runs), kFixThreads, FixShared<T>(), walks>>>(
      a, plan.value_groups, length, runs, kRunChunks, c_token0, plan.states, C);
  LS_CUDA_TRY(cudaGetLastError(), "deltaRule (chunked) output launch");
  return LS_OK;  // (join: the call's stream after the last kernel)
}

template <typename T>
ls_status Launch(const ls_delta_rule_params& p, cudaStream_t stream) {
  const int Kp = static_cast<int>((p.key_dim + 15) / 16 * 16);
  const int64_t heads = p.batch * p.value_heads, chunks = (p.seqlen + kC - 1) / kC;
  const int columns = StateColumns<T>(heads, p.value_dim, Kp);
  // Not where the ldmatrix walk takes 8-column blocks (few heads) and the sequence is too short for the prepare kernel
  // to run beside the walk: with it beside, B1 T262144 H8 K=V=128 took 8.60 ms in bf16 against the ldmatrix walk's
  // 9.10 (on an H100), and the warpgroup walk alone 9.18-9.28.
  WalkTiles walk_tiles;
  if ((columns >= 16 || chunks > kOverlapChunks) && WalksOnWgmma(p, Kp, walk_tiles)) {
    const int segments = ParallelSegments(heads, static_cast<int>((p.value_dim + kWgmmaColumns - 1) / kWgmmaColumns),
                                          static_cast<int>((p.key_dim + kWgmmaColumns - 1) / kWgmmaColumns),
                                          sizeof(T) == 2 && !p.allow_bf16_products ? 7 : 6);
    if (chunks > kOverlapChunks && segments > 1) return LaunchWgmmaParallel<T>(p, walk_tiles, segments, stream);
    return LaunchWgmma<T>(p, walk_tiles, stream);
  }
  const int groups = static_cast<int>((p.value_dim + columns - 1) / columns);
  const int Vp = static_cast<int>((p.value_dim + kColumnPad - 1) / kColumnPad * kColumnPad);
  const bool t_form = sizeof(T) == 2 && TForm(columns);  // bf16: the workspace's form
  // bf16 on sm_90: q's and k's tiles by tensor maps from the inputs where they can be made and at most
  // kMostTileReaders state blocks read each tile (those of a head's groups and the value heads that share its q and k).
  QkTiles tiles = {};
  const bool qk_in_set = sizeof(T) == 4 || groups * (p.value_heads / p.heads) > kMostTileReaders ||
                         !(EncodeTokenTiles(&tiles.q, p.q, p.batch, p.seqlen, p.heads, p.key_dim, SetLayout(Kp, t_form).row, kC) &&
                           EncodeTokenTiles(&tiles.k, p.k, p.batch, p.seqlen, p.heads, p.key_dim, SetLayout(Kp, t_form).row, kC));
  const int64_t record_bytes = RecordBytes<T>(Kp, Vp, qk_in_set, t_form);
  const int64_t per_segment = std::min(chunks, std::max<int64_t>(1, WorkspaceLimit(kWorkspaceBytes) / (heads * record_bytes)));
  if (heads * groups >= (int64_t{1} << 31) || heads * per_segment >= (int64_t{1} << 31)) {
    return ls::Fail(LS_INVALID_ARGUMENT, "deltaRule on the GPU: batch * value_heads * ceil(value_dim / %d) must be below 2^31", columns);
  }
  LS_CUDA_TRY(Once([] {  // every configuration that fits (the others are never chosen)
    cudaError_t error = cudaSuccess;
    const auto opt_in = [&error](auto kernel, size_t bytes) {
      if (error == cudaSuccess && bytes <= static_cast<size_t>(SharedMemoryOptIn())) {
        error = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
      }
    };
    for (int Kp = 16; Kp <= kMaxPadded; Kp += 16) {
      for (int cols : {8, 16}) opt_in(PrepareKernelFor<T>(Kp, cols), PrepareSharedFor<T>(Kp));  // both bf16 forms
      for (int cols : kColumnChoices) {
        if constexpr (sizeof(T) == 2) opt_in(StateKernelBf16For(Kp, cols), StateSharedFor<T>(Kp, cols));
        else opt_in(StateKernelFor(Kp, cols), StateSharedFor<T>(Kp, cols));
      }
    }
    return error;
  }), "deltaRule");

  DeviceScratch workspace(stream), temporary_state(stream);
  if (ls_status s = workspace.Allocate(heads * per_segment * record_bytes)) return s;
  WorkspaceOf<T> w;
  Carve(w, workspace.get<void>(), heads * per_segment, Kp, Vp, qk_in_set, t_form);
  float* state;
  if (ls_status s = CarriedState(p, heads, per_segment < chunks, temporary_state, state)) return s;
  const ChunkArgs<T> a = ArgsOf<T>(p, Kp, Vp);
  for (int64_t first = 0; first < chunks; first += per_segment) {
    w.chunks = std::min(per_segment, chunks - first);
    PrepareKernelFor<T>(Kp, columns)<<<static_cast<unsigned>(heads * w.chunks), kThreads, PrepareSharedFor<T>(Kp), stream>>>(a, w, first);
    LS_CUDA_TRY(cudaGetLastError(), "deltaRule (chunked) prepare launch");
    const float* state_in = first == 0 ? p.initial_state : state;
    const unsigned blocks = static_cast<unsigned>(heads * groups);
    const size_t shared = StateSharedFor<T>(Kp, columns);
    if constexpr (sizeof(T) == 2) {
      StateKernelBf16For(Kp, columns)<<<blocks, StateThreadsBf16(columns), shared, stream>>>(a, w, tiles, first, groups, state_in, state);
    } else {
      StateKernelFor(Kp, columns)<<<blocks, StateThreads(columns), shared, stream>>>(a, w, first, groups, state_in, state);
    }
    LS_CUDA_TRY(cudaGetLastError(), "deltaRule (chunked) state launch");
  }
  return LS_OK;
}
#endif  // LONGSEQ_CUDA_EMULATE

}  // namespace

#ifndef LONGSEQ_CUDA_EMULATE
bool DeltaRuleChunkedFits(const ls_delta_rule_params& p) {
  if (p.key_dim > kMaxPadded) return false;
  const int Kp = static_cast<int>((p.key_dim + 15) / 16 * 16);  // the narrowest state block must fit
  const int narrowest = kColumnChoices[std::size(kColumnChoices) - 1];
  return p.storage == LS_BFLOAT16 ? Fits<__nv_bfloat16>(Kp, narrowest) : Fits<float>(Kp, narrowest);
}

ls_status LaunchDeltaRuleChunked(const ls_delta_rule_params& p, cudaStream_t stream) {
  return p.storage == LS_BFLOAT16 ? Launch<__nv_bfloat16>(p, stream) : Launch<float>(p, stream);
}
#endif  // LONGSEQ_CUDA_EMULATE

}  // namespace cuda
}  // namespace ls
