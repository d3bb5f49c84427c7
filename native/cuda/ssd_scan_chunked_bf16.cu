// Mamba-2's SSD scan in the chunked form for bf16 storage (x, z, B, C and y), its products on bf16 tensor cores
// (mma.sync m16n8k16, float32 accumulation), as mamba_ssm's Triton kernels do for bf16 inputs. The math and the
// chunking are those of ssd_scan_chunked.cu (its header comment); the operands differ:
//   - x, B and C enter the products as they are stored (bf16 is exact there);
//   - the walk's x scaled by dt e^(gamma_last - gamma) is split into two bf16 parts (hi + lo, two products), so the
//     carried state and the final state keep float32 accuracy;
//   - the outputs' operands that are not data, the entering state and the causal mixing matrix
//     (C B^T) ⊙ e^(gamma_t - gamma_s) dt_s, are rounded to bf16 once: y gets a relative error of the order of its
//     own bf16 rounding (measured in BENCHMARKS.md), and the states pass between the kernels in half the bytes.
// Three kernels per workspace segment: SsdDecayKernel (dt, gamma), a walk over the chunks that keeps a slice of the
// state and writes the state entering each chunk, and the outputs (per batch, head, chunk and 64 head dims). On sm_90a
// both run on Hopper's warpgroup products: WgmmaWalkKernel (per batch, head, 64 head dims and 32 states) and
// WgmmaOutputKernel (C S^T, C B^T and the mixing matrix's product with x). Elsewhere WalkKernel (per batch, head
// and 16 or 32 head dims) and OutputKernel (C B^T formed in registers, tile by tile, and used there as the next
// product's operand) on mma.sync; on sm_90 without sm_90a code that kernel's tiles come by tensor maps. Measured on
// an H200 (bf16, softplus dt, D, z) at B1 L65536 H32 P64 N128: 0.91 ms on warpgroup products, 1.26 on mma.sync.
#include <algorithm>

#ifndef LONGSEQ_CUDA_EMULATE  // else the kernels alone, on the CPU (cuda/emulate.h; not the sm_90 ones)
#include "cuda/common.cuh"
#endif
#include "cuda/ssd_scan_chunked.h"
#include "cuda/tensor_core.cuh"

namespace ls {
namespace cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kQ = kSsdChunk;
constexpr int kOutThreads = 128;  // OutputKernel: 4 warps
constexpr int kOutColumns = 64;   // head dims per OutputKernel block
// One segment up to about 110K tokens at 32 heads, 64 head dims and 128 states (B1 L65536 takes 285 MB): a second
// segment costs its walk's pipeline fill and its output kernel's last, mostly empty wave (43 us of kernel time
// there, measured).
constexpr int64_t kWorkspaceBytes = int64_t{512} << 20;

// Shared rows of `width` bf16 (a multiple of 8) padded by 8: the 8 rows an ldmatrix reads start 16 bytes apart
// modulo 128, in distinct banks.
__host__ __device__ constexpr int Padded(int width) { return width + 8; }

// One segment's chunks.
struct Bf16Workspace {
  double* gamma;   // [batch * heads][chunks][kQ] cumulative log2-decays within each chunk
  float* dt;       // [batch * heads][chunks][kQ] step sizes (0 past the end)
  float* weights;  // [batch * heads][chunks][kSsdWeights] the tokens' weights in the chunk's state, its decay
  bf16* state;    // [batch * heads][chunks][P][Np] the state entering each chunk
  int64_t chunks;
};

// The walk's staging for blocks of `rows` head dims and `columns` states.
size_t WalkShared(int rows, int columns, int stages) {
  return sizeof(bf16) * ((stages + 2) * kQ * Padded(rows) + stages * kQ * Padded(columns)) + stages * sizeof(float) * kSsdWeights;
}
size_t OutputShared(int Np) {
  const size_t operands = std::max(sizeof(bf16) * (2 * kQ + kOutColumns) * Padded(Np), sizeof(float) * kQ * (kOutColumns + 4));
  // (+ 128: the tiles 128-byte aligned for the tensor memory accelerator, and its mbarrier)
  return sizeof(bf16) * kQ * Padded(kOutColumns) + sizeof(float) * (2 * kQ + kOutColumns) + operands + 128 + 8;
}
// On sm_90 the output kernel's tiles come by tensor maps (EncodeTokenTiles) whose boxes are its padded rows: C's and
// B's rows of a chunk, the entering state's 64 rows (the workspace's states as [records][P][Np]) and x's rows.
struct OutputTiles {
  CUtensorMap c, b, s, x;
};

// blockIdx.x = (bh * ceil(P / kRows) + row block) * column blocks + column block: the block keeps kRows head dims
// and 16 kWarps states, warp w states n0 + 16 w .. n0 + 16 w + 15, in float32 registers (mma accumulator layout).
// A software pipeline with one barrier per chunk: while chunk c's product runs, chunk c + 1's x is scaled (split
// into its bf16 parts) and chunks c + 2 .. c + kStages - 1 are on their way by cp.async (kStages buffers of x, B and
// the weights, two of the low parts). state_in (null: zeros) and state_out (null: not kept) may be the same.
template <int kRows, int kWarps, int kStages>
__global__ void __launch_bounds__(32 * kWarps, 8 / kWarps) WalkKernel(const SsdChunkArgs<bf16> a, const Bf16Workspace w, int64_t first_chunk,
                                                                   const float* state_in, float* state_out) {
  constexpr int kTiles = kRows / 16, kXs = Padded(kRows), kColumns = 16 * kWarps, kBs = Padded(kColumns), kBlock = 32 * kWarps;
  constexpr int kPerThread = kRows * kQ / kBlock, kThreadsPerToken = kRows / kPerThread;  // the scaling's share
  static_assert(kPerThread == 16, "WalkKernel: the scaling takes 16 elements of one token per thread");
  static_assert(kStages >= 3, "WalkKernel: chunk c + 1 is scaled while chunk c multiplies");
  LS_SHARED(float4, shared4);
  const int Np = a.Np, P = a.P, N = a.N;
  bf16* Xs = reinterpret_cast<bf16*>(shared4);                     // [kStages][kQ][kXs] x, then the scaled x's high part
  bf16* Xlo = Xs + kStages * kQ * kXs;                              // [2][kQ][kXs] the scaled x's low part
  bf16* Bs = Xlo + 2 * kQ * kXs;                                    // [kStages][kQ][kBs]
  float* weights = reinterpret_cast<float*>(Bs + kStages * kQ * kBs);  // [kStages][kSsdWeights]
  const int row_blocks = (P + kRows - 1) / kRows, column_blocks = (Np + kColumns - 1) / kColumns;
  const int64_t bh = blockIdx.x / column_blocks / row_blocks, b = bh / a.heads, h = bh % a.heads, g = h / (a.heads / a.groups);
  const int p0 = blockIdx.x / column_blocks % row_blocks * kRows, rows = min(kRows, P - p0);
  const int n0 = blockIdx.x % column_blocks * kColumns, lane = threadIdx.x % 32, c0 = threadIdx.x / 32 * 16;
  const int columns = max(0, min(kColumns, N - n0));
  const bool active = n0 + c0 < Np;  // (a warp past Np multiplies zeros and keeps nothing)
  // Chunk c's rows of x and B at x_rows / b_rows + c kQ stride, token by token; its weights at + c kSsdWeights.
  const int64_t x_stride = a.heads * P, b_stride = a.groups * N, t_first = first_chunk * kQ;
  const bf16* x_rows = a.x + ((b * a.seqlen + t_first) * a.heads + h) * P + p0;
  const bf16* b_rows = a.B + ((b * a.seqlen + t_first) * a.groups + g) * N + n0;
  const bool x_fast = Bf16RowsFit(x_rows, x_stride, rows), b_fast = Bf16RowsFit(b_rows, b_stride, columns);
  const float* weight_rows = w.weights + bh * w.chunks * kSsdWeights;

  float S[kTiles][2][4], low[kTiles][2][4];  // the state's 16 x 16 tiles (rows p0 + 16 i.., columns n0 + c0..)
  const auto each_state = [&](auto&& f) {  // f(element, low part, row within the block's rows, state)
#pragma unroll
    for (int i = 0; i < kTiles; ++i) {
#pragma unroll
      for (int m = 0; m < 2; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) f(S[i][m][e], low[i][m][e], 16 * i + TileRow(e), n0 + c0 + TileColumn(m, e));
      }
    }
  };
  const float* state_from = state_in ? state_in + (bh * P + p0) * N : nullptr;
  each_state([&](float& x, float& lo, int row, int column) {
    x = state_from && row < rows && column < N ? state_from[static_cast<int64_t>(row) * N + column] : 0.f;
    lo = 0.f;
  });
  // This thread's first state pair in the workspace, of the chunk the walk is at (chunk c's at + c P Np).
  bf16* state_at = w.state + (bh * w.chunks * P + p0 + lane / 4) * Np + n0 + c0 + 2 * (lane % 4);
  // The walk counts its chunks in 32 bits (a segment's are far fewer than 2^31): 64-bit indices and remainders
  // were a measurable part of each step's instructions.
  const int chunks = static_cast<int>(w.chunks);
  const auto stage = [&](int chunk) {
    if (chunk < chunks) {
      const int buffer = chunk % kStages;
      const int n = static_cast<int>(min(static_cast<int64_t>(kQ), a.seqlen - t_first - chunk * kQ));
      StageBf16Tile<kQ, kRows, kBlock>(Xs + buffer * kQ * kXs, kXs, x_rows + chunk * kQ * x_stride, x_stride, n, rows, x_fast);
      StageBf16Tile<kQ, kColumns, kBlock>(Bs + buffer * kQ * kBs, kBs, b_rows + chunk * kQ * b_stride, b_stride, n, columns, b_fast);
      if (threadIdx.x < kSsdWeights / 4) {
        StageQuad(weights + buffer * kSsdWeights + 4 * threadIdx.x, weight_rows + chunk * kSsdWeights + 4 * threadIdx.x, true);
      }
    }
    CommitCopies();
  };
  // The scaling of chunk c's x into hi + lo of x dt e^(gamma_last - gamma): 16 elements of one token a thread,
  // loaded first (load) and finished later (finish), so that a product can run in between.
  const int token = threadIdx.x / kThreadsPerToken, token_column = kPerThread * (threadIdx.x % kThreadsPerToken);
  uint4 raw[2];
  const auto load = [&](int chunk) {
    const uint4* at = reinterpret_cast<const uint4*>(Xs + (chunk % kStages * kQ + token) * kXs + token_column);
    raw[0] = at[0], raw[1] = at[1];
  };
  const auto finish = [&](int chunk) {
    const float wt = weights[chunk % kStages * kSsdWeights + token];
    uint4* at = reinterpret_cast<uint4*>(Xs + (chunk % kStages * kQ + token) * kXs + token_column);
    uint4* low_at = reinterpret_cast<uint4*>(Xlo + ((chunk & 1) * kQ + token) * kXs + token_column);
#pragma unroll
    for (int q = 0; q < 2; ++q) {
      const uint32_t in[4] = {raw[q].x, raw[q].y, raw[q].z, raw[q].w};
      uint32_t hi[4], lo[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float x0 = __uint_as_float(in[j] << 16) * wt, x1 = __uint_as_float(in[j] & 0xffff0000u) * wt;
        hi[j] = PackBf16(x0, x1);
        lo[j] = PackBf16(x0 - __uint_as_float(hi[j] << 16), x1 - __uint_as_float(hi[j] & 0xffff0000u));
      }
      at[q] = make_uint4(hi[0], hi[1], hi[2], hi[3]);
      low_at[q] = make_uint4(lo[0], lo[1], lo[2], lo[3]);
    }
  };
  for (int c = 0; c < kStages - 1; ++c) stage(c);
  WaitCopies<kStages - 2>();
  __syncthreads();
  load(0);
  finish(0);
  for (int chunk = 0; chunk < chunks; ++chunk) {
    WaitCopies<kStages - 3>();  // chunk + 1's operands
    __syncthreads();  // chunk's scaled x visible; chunk - 1's buffers free
    stage(chunk + kStages - 1);
    if (active) {  // the state entering the chunk, for the outputs
      bf16* out = state_at;
#pragma unroll
      for (int i = 0; i < kTiles; ++i) {
#pragma unroll
        for (int m = 0; m < 2; ++m) {
#pragma unroll
          for (int e = 0; e < 4; e += 2) {
            if (16 * i + TileRow(e) < rows) *reinterpret_cast<uint32_t*>(out + (16 * i + 8 * (e / 2)) * Np + 8 * m) = PackBf16(S[i][m][e], S[i][m][e + 1]);
          }
        }
      }
    }
    state_at += static_cast<int64_t>(P) * Np;
    const bool next = chunk + 1 < chunks;
    if (next) load(chunk + 1);
    // S <- e^gamma_last S + (x scaled)^T B
    const float decay = weights[chunk % kStages * kSsdWeights + kQ];
    each_state([&](float& x, float&, int, int) { x *= decay; });
    const bf16* X = Xs + chunk % kStages * kQ * kXs;
    const bf16* XL = Xlo + (chunk & 1) * kQ * kXs;
    const bf16* Bc = Bs + chunk % kStages * kQ * kBs;
    // The high parts' products of step k0 / 16 go to accumulator set k0 / 16 % 4 (set 0: S itself, then highs), so
    // that each chain of dependent products is a quarter as long; the low parts' to set k0 / 16 % 2 (low, then
    // lows), where two sets measured faster than four (fewer additions and registers).
    float highs[3][kTiles][2][4] = {}, lows[kTiles][2][4] = {};
#pragma unroll
    for (int k0 = 0; k0 < kQ; k0 += 16) {
      uint32_t bf[4];
      LoadMatrices<true>(bf, Bc + (k0 + MatrixRow(lane, 1)) * kBs + c0 + MatrixColumn(lane, 2));
#pragma unroll
      for (int i = 0; i < kTiles; ++i) {
        uint32_t hi[4], lo[4];
        const int at = (k0 + MatrixRow(lane, 2)) * kXs + 16 * i + MatrixColumn(lane, 1);
        LoadMatrices<true>(hi, X + at);
        LoadMatrices<true>(lo, XL + at);
#pragma unroll
        for (int m = 0; m < 2; ++m) {
          const int set = k0 / 16 % 4;
          MmaBf16(set ? highs[set - 1][i][m] : S[i][m], hi, bf[2 * m], bf[2 * m + 1]);
          MmaBf16(set % 2 ? lows[i][m] : low[i][m], lo, bf[2 * m], bf[2 * m + 1]);
        }
      }
    }
    if (next) finish(chunk + 1);
#pragma unroll
    for (int i = 0; i < kTiles; ++i) {
#pragma unroll
      for (int m = 0; m < 2; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float low_sum = low[i][m][e] + lows[i][m][e];
          const float high_sum = (highs[0][i][m][e] + highs[1][i][m][e]) + highs[2][i][m][e];
          S[i][m][e] += low_sum + high_sum, low[i][m][e] = 0.f;
        }
      }
    }
  }
  if (state_out && active) {
    float* state_to = state_out + (bh * P + p0) * N;
    each_state([&](float x, float, int row, int column) {
      if (row < rows && column < N) state_to[static_cast<int64_t>(row) * N + column] = x;
    });
  }
}

// --- The walk on Hopper's warpgroup products (sm_90a). A block of 4 warps keeps 64 head dims x 32 states of a
// (batch, head) in the accumulators of one warpgroup product (wgmma m64n32k16, float32), so the products accumulate
// into the state itself and run while the warps scale the next chunk's x. Per chunk, by the tensor memory accelerator
// and counted by one mbarrier: x's rows (a tensor map's box of 128 tokens by 64 head dims, 128-byte swizzled rows),
// B's rows for the block's 32 states (a box of 128 tokens by 32 states, 64-byte swizzled rows: wgmma's B operand as
// MN-major rows of its depth), and the tokens' weights. Each warp reads its 16 head dims of x as A fragments
// (ldmatrix, transposed), scales them by the tokens' weights into two bf16 parts (hi + lo, as the walk above), and
// the warpgroup adds both parts' products to the state.

constexpr int kWgmmaRows = 64, kWgmmaStates = 32, kWgmmaThreads = 128;
constexpr int kBBytes = kQ * kWgmmaStates * 2;          // a chunk's B rows for 32 states, 64 bytes each
constexpr int kXBytes = kQ * kWgmmaRows * 2;            // a chunk's x rows, 128 bytes each
constexpr int kWeightBytes = kSsdWeights * 4;
constexpr int kWgmmaStageBytes = (kXBytes + kBBytes + kWeightBytes + 1023) / 1024 * 1024;
// Four chunks staged (five measured slower at L65536: 1.094 against 1.060 ms): 101 KB, two blocks an SM where blocks
// outnumber SMs.
constexpr int kWgmmaStages = 4;
constexpr size_t WgmmaWalkShared() { return 1024 + kWgmmaStages * (kWgmmaStageBytes + sizeof(uint64_t)); }

// blockIdx.x = (bh * ceil(P / 64) + row block) * (Np / 32) + state block. x_tiles, b_tiles: x and B as
// EncodeTokenTiles makes them (boxes 64 x kQ in the 128-byte swizzle and 32 x kQ in the 64-byte one). state_in
// (null: zeros) and state_out (null: not kept) may be the same.
__global__ void __launch_bounds__(kWgmmaThreads, 1) WgmmaWalkKernel(const SsdChunkArgs<bf16> a, const Bf16Workspace w,
                                                                  const __grid_constant__ CUtensorMap x_tiles,
                                                                  const __grid_constant__ CUtensorMap b_tiles, int64_t first_chunk,
                                                                  const float* state_in, float* state_out) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int kSteps = kQ / 16;
  LS_SHARED(float4, shared4);
  const uint32_t shared_at = static_cast<uint32_t>(__cvta_generic_to_shared(shared4));
  char* base = reinterpret_cast<char*>(shared4) + ((shared_at + 1023) / 1024 * 1024 - shared_at);  // 1024-aligned
  uint64_t* full = reinterpret_cast<uint64_t*>(base + kWgmmaStages * kWgmmaStageBytes);  // [kStages] a stage's copies landed
  const uint32_t x_base = static_cast<uint32_t>(__cvta_generic_to_shared(base));
  const auto weights = [&](int stage) { return reinterpret_cast<const float*>(base + stage * kWgmmaStageBytes + kXBytes + kBBytes); };
  const int P = a.P, N = a.N, Np = a.Np, state_blocks = Np / kWgmmaStates, row_blocks = (P + kWgmmaRows - 1) / kWgmmaRows;
  const int64_t bh = blockIdx.x / state_blocks / row_blocks, b = bh / a.heads, h = bh % a.heads, g = h / (a.heads / a.groups);
  const int p0 = blockIdx.x / state_blocks % row_blocks * kWgmmaRows, n0 = blockIdx.x % state_blocks * kWgmmaStates;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int chunks = static_cast<int>(w.chunks);
  const float* weight_rows = w.weights + bh * w.chunks * kSsdWeights;

  ReadyBulkBarriers(full, kWgmmaStages);
  // By thread 0: chunk c's x rows, B rows and weights into stage c % kStages.
  const auto issue = [&](int c) {
    const int stage = c % kWgmmaStages;
    const uint32_t to = x_base + stage * kWgmmaStageBytes;
    const uint32_t bar = static_cast<uint32_t>(__cvta_generic_to_shared(full + stage));
    ArriveExpecting(bar, kXBytes + kBBytes + kWeightBytes);
    const int t0 = static_cast<int>((first_chunk + c) * kQ);
    CopyTile(to, &x_tiles, p0, static_cast<int>(h), t0, static_cast<int>(b), bar);
    CopyTile(to + kXBytes, &b_tiles, n0, static_cast<int>(g), t0, static_cast<int>(b), bar);
    BulkCopy(to + kXBytes + kBBytes, weight_rows + static_cast<int64_t>(c) * kSsdWeights, kWeightBytes, bar);
  };
  if (threadIdx.x == 0) {
    for (int c = 0; c < kWgmmaStages - 1 && c < chunks; ++c) issue(c);
  }

  // The state: rows p0 + 16 warp + TileRow(e), columns n0 + TileColumn(j, e) in S[4 j + e].
  float S[16];
  const int row = p0 + 16 * warp + lane / 4;  // this thread's rows: row and row + 8
  const float* state_from = state_in ? state_in + (bh * P) * N : nullptr;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int r = row + 8 * (e / 2), n = n0 + TileColumn(j, e);
      // (by the read-only path: with a plain load, ptxas serializes every product, C7515; each element is read
      // here once, before this thread writes it at the end)
      S[4 * j + e] = state_from && r < P && n < N ? __ldg(state_from + static_cast<int64_t>(r) * N + n) : 0.f;
    }
  }
  // Chunk c's A fragments (x^T of this warp's 16 head dims, depth = tokens), scaled and split: A[k step][part][4].
  using Fragments = uint32_t[kSteps][2][4];
  const auto fragments = [&](int c, Fragments& A) {
    const int stage = c % kWgmmaStages;
    WaitBulkStage(full + stage, (c / kWgmmaStages) & 1);
    const uint32_t X = x_base + stage * kWgmmaStageBytes;
    const float* wt = weights(stage);
#pragma unroll
    for (int k = 0; k < kSteps; ++k) {
      uint32_t r[4];  // rows (tokens) 16 k + MatrixRow(lane, 2), 8 head dims from 16 warp + MatrixColumn(lane, 1)
      const int t = 16 * k + MatrixRow(lane, 2), chunk16 = (16 * warp + MatrixColumn(lane, 1)) / 8;
      LoadMatrices<true>(r, X + t * 128 + ((chunk16 ^ (t % 8)) * 16));
      const float2 near = *reinterpret_cast<const float2*>(wt + 16 * k + 2 * (lane % 4));  // tokens of r[0], r[1]
      const float2 far = *reinterpret_cast<const float2*>(wt + 16 * k + 8 + 2 * (lane % 4));  // of r[2], r[3]
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const float2 wq = q < 2 ? near : far;
        SplitBf16(__uint_as_float(r[q] << 16) * wq.x, __uint_as_float(r[q] & 0xffff0000u) * wq.y, A[k][0][q], A[k][1][q]);
      }
    }
  };
  // The compiler sees a product's registers read and written when it is issued; these keep them (and a chunk's A
  // fragments, which the products read later) from being reused or read before WgmmaWait says they are done.
  const auto hold = [](float (&s)[16], Fragments& A) {
    HoldRegisters(s);
#pragma unroll
    for (int k = 0; k < kSteps; ++k) HoldRegisters(A[k]);
  };
  bf16* state_at = w.state + (bh * w.chunks * P + row) * Np + n0 + 2 * (lane % 4);  // chunk c's at + c P Np
  const uint32_t b_base = x_base + kXBytes;
  // One chunk: A holds its fragments; `previous` those of chunk c - 1, whose products may still run.
  const auto step = [&](int c, Fragments& A, Fragments& previous) {
    WgmmaWait<0>();
    hold(S, previous);
    __syncthreads();  // every warp's products of chunk c - 1 are done: its stage may be refilled
    if (threadIdx.x == 0 && c + kWgmmaStages - 1 < chunks) issue(c + kWgmmaStages - 1);
    const int stage = c % kWgmmaStages;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
#pragma unroll
      for (int e = 0; e < 4; e += 2) {
        if (row + 8 * (e / 2) < P) *reinterpret_cast<uint32_t*>(state_at + 8 * (e / 2) * Np + 8 * j) = PackBf16(S[4 * j + e], S[4 * j + e + 1]);
      }
    }
    state_at += static_cast<int64_t>(P) * Np;
    const float decay = weights(stage)[kQ];
#pragma unroll
    for (int i = 0; i < 16; ++i) S[i] *= decay;
    WgmmaFence();
    const uint32_t b_rows = b_base + stage * kWgmmaStageBytes;
#pragma unroll
    for (int k = 0; k < kSteps; ++k) {
      const uint64_t desc = RowsDescriptor64(b_rows + 1024 * k);
      WgmmaN32(S, A[k][0], desc);
      WgmmaN32(S, A[k][1], desc);
    }
    WgmmaCommit();
    if (c + 1 < chunks) fragments(c + 1, previous);
  };
  Fragments even, odd;
  if (chunks > 0) fragments(0, even);
  for (int c = 0; c < chunks; c += 2) {
    step(c, even, odd);
    if (c + 1 < chunks) step(c + 1, odd, even);
  }
  WgmmaWait<0>();
  if (chunks % 2) {  // the last chunk's fragments
    hold(S, even);
  } else {
    hold(S, odd);
  }
  if (state_out) {
    float* state_to = state_out + (bh * P) * N;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = row + 8 * (e / 2), n = n0 + TileColumn(j, e);
        if (r < P && n < N) state_to[static_cast<int64_t>(r) * N + n] = S[4 * j + e];
      }
    }
  }
#endif
}

// blockIdx.x = (chunk * batch * heads + bh) * ceil(P / kOutColumns) + column block: the heads of a chunk run
// together and find its B and C in L2 (in head-major order each head read them from memory again, doubling the
// traffic). dstate padded to 16 kSteps. y goes through shared memory, so that z is read and y written in 16-byte
// accesses.
template <int kSteps, bool kTma>
__global__ void __launch_bounds__(kOutThreads, 2) OutputKernel(const SsdChunkArgs<bf16> a, const Bf16Workspace w, int64_t first_chunk,
                                                               const __grid_constant__ OutputTiles maps) {
  constexpr int kNp = 16 * kSteps, kNs = Padded(kNp), kXs = Padded(kOutColumns), kYs = kOutColumns + 4;
  LS_SHARED(float4, shared4);
  const int P = a.P, N = a.N;
  const uint32_t shared_at = static_cast<uint32_t>(__cvta_generic_to_shared(shared4));
  bf16* Xs = reinterpret_cast<bf16*>(reinterpret_cast<char*>(shared4) + ((shared_at + 127) / 128 * 128 - shared_at));  // [kQ][kXs]
  float* gamma = reinterpret_cast<float*>(Xs + kQ * kXs);  // [kQ]
  float* dt = gamma + kQ;                                  // [kQ]
  float* Ds = dt + kQ;                                     // [kOutColumns]
  bf16* Cs = reinterpret_cast<bf16*>(Ds + kOutColumns);    // [kQ][kNs]
  bf16* Bs = Cs + kQ * kNs;                                // [kQ][kNs]
  bf16* Ss = Bs + kQ * kNs;                                // [kOutColumns][kNs] the entering state's rows
  float* Ys = reinterpret_cast<float*>(Cs);                // [kQ][kYs] y before D x and the gate, where C, B, S were
  const int column_blocks = (P + kOutColumns - 1) / kOutColumns;
  const int64_t heads = a.batch * a.heads, chunk = blockIdx.x / column_blocks / heads, bh = blockIdx.x / column_blocks % heads;
  const int64_t record = bh * w.chunks + chunk;
  const int64_t b = bh / a.heads, h = bh % a.heads, g = h / (a.heads / a.groups);
  const int p0 = blockIdx.x % column_blocks * kOutColumns, columns = min(kOutColumns, P - p0);
  const int64_t t0 = (first_chunk + chunk) * kQ;
  const int n = static_cast<int>(min(static_cast<int64_t>(kQ), a.seqlen - t0));
  const int64_t x_at = ((b * a.seqlen + t0) * a.heads + h) * P + p0;  // token t's row at x_at + t H P
  const bf16* C = a.C + ((b * a.seqlen + t0) * a.groups + g) * N;
  const bf16* B = a.B + ((b * a.seqlen + t0) * a.groups + g) * N;
  const int64_t bc_stride = a.groups * N, x_stride = a.heads * P;

  uint64_t* landed = reinterpret_cast<uint64_t*>(Ss + kOutColumns * kNs);  // (kTma) the four tiles' copies
  if constexpr (kTma) {
#if __CUDA_ARCH__ >= 900
    const uint32_t bar = ReadyBulkBarriers(landed);
    if (threadIdx.x == 0) {
      ArriveExpecting(bar, sizeof(bf16) * (2 * kQ * kNs + kOutColumns * kNs + kQ * kXs));
      const auto copy = [&](const void* to, const CUtensorMap* map, int c0, int c1, int c2, int c3) {
        CopyTile(static_cast<uint32_t>(__cvta_generic_to_shared(to)), map, c0, c1, c2, c3, bar);
      };
      copy(Cs, &maps.c, 0, static_cast<int>(g), static_cast<int>(t0), static_cast<int>(b));
      copy(Bs, &maps.b, 0, static_cast<int>(g), static_cast<int>(t0), static_cast<int>(b));
      copy(Ss, &maps.s, 0, 0, p0, static_cast<int>(record));
      copy(Xs, &maps.x, p0, static_cast<int>(h), static_cast<int>(t0), static_cast<int>(b));
    }
#endif
  } else {
    StageBf16Tile<kQ, kNp, kOutThreads>(Cs, kNs, C, bc_stride, n, N, Bf16RowsFit(C, bc_stride, N));
    StageBf16Tile<kQ, kNp, kOutThreads>(Bs, kNs, B, bc_stride, n, N, Bf16RowsFit(B, bc_stride, N));
    StageBf16Tile<kOutColumns, kNp, kOutThreads>(Ss, kNs, w.state + (record * P + p0) * kNp, kNp, columns, kNp, true);
    StageBf16Tile<kQ, kOutColumns, kOutThreads>(Xs, kXs, a.x + x_at, x_stride, n, columns, Bf16RowsFit(a.x + x_at, x_stride, columns));
    CommitCopies();
  }
  static_assert(kOutThreads == kQ && kOutThreads >= kOutColumns, "OutputKernel: a thread per token");
  // float differences of gamma suffice here: the products' operands are bf16
  gamma[threadIdx.x] = static_cast<float>(w.gamma[record * kQ + threadIdx.x]);
  dt[threadIdx.x] = w.dt[record * kQ + threadIdx.x];
  if (threadIdx.x < kOutColumns) {
    const int p = threadIdx.x;
    Ds[p] = a.D && p < columns ? a.D[a.D_per_dim ? h * P + p0 + p : h] : 0.f;
  }
  if constexpr (kTma) {
    WaitBulkStage(landed, 0);
  } else {
    WaitCopies<0>();
  }
  __syncthreads();

  // Warp w takes row tiles w and 7 - w (the causal part's work is then the same for every warp) and all 64
  // columns; per row tile, C's fragments are loaded once and kept for both products (with the entering state, and
  // C B^T per tile of tokens s).
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int tiles[2] = {warp, kQ / 16 - 1 - warp};
  float acc[2][8][4];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int r = tiles[i], row = 16 * r + lane / 4;  // this thread's rows: row and row + 8
    uint32_t cf[kSteps][4];
#pragma unroll
    for (int k = 0; k < kSteps; ++k) LoadMatrices<false>(cf[k], Cs + (16 * r + MatrixRow(lane, 1)) * kNs + 16 * k + MatrixColumn(lane, 2));
#pragma unroll
    for (int c = 0; c < 8; ++c) {
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][c][e] = 0.f;
    }
#pragma unroll
    for (int k = 0; k < kSteps; ++k) {  // C_t S_in
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        uint32_t sf[4];
        LoadMatrices<false>(sf, Ss + (16 * q + MatrixRow(lane, 2)) * kNs + 16 * k + MatrixColumn(lane, 1));
        MmaBf16(acc[i][2 * q], cf[k], sf[0], sf[1]);
        MmaBf16(acc[i][2 * q + 1], cf[k], sf[2], sf[3]);
      }
    }
    const float gamma_row[2] = {gamma[row], gamma[row + 8]};
#pragma unroll
    for (int c = 0; c < 8; ++c) {
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][c][e] *= Exp2(gamma_row[e / 2]);
    }
    // + the causal part, by tiles of 16 tokens s <= t: C_t . B_s, times dt_s e^(gamma_t - gamma_s) (zero above the
    // diagonal), is the A fragment of the product with x in the accumulator layout: registers (tile m, rows row and
    // row + 8) in the order (0, row), (0, row + 8), (1, row), (1, row + 8).
    const auto causal_tile = [&](int s0, bool diagonal) {
      // C_t . B_s, the steps of its depth in four sets of accumulators by step % 4: four chains a quarter as long
      float part[4][2][4] = {};
      const bf16* bs = Bs + (s0 + MatrixRow(lane, 2)) * kNs + MatrixColumn(lane, 1);
#pragma unroll
      for (int k = 0; k < kSteps; ++k) {
        uint32_t bf[4];
        LoadMatrices<false>(bf, bs + 16 * k);
        MmaBf16(part[k % 4][0], cf[k], bf[0], bf[1]);
        MmaBf16(part[k % 4][1], cf[k], bf[2], bf[3]);
      }
      float gram[2][4];
#pragma unroll
      for (int m = 0; m < 2; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) gram[m][e] = (part[0][m][e] + part[1][m][e]) + (part[2][m][e] + part[3][m][e]);
      }
      uint32_t mix[4];
#pragma unroll
      for (int m = 0; m < 2; ++m) {
        const int s = s0 + 8 * m + 2 * (lane % 4);
        const float2 gs = *reinterpret_cast<const float2*>(gamma + s), ds = *reinterpret_cast<const float2*>(dt + s);
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          float v0 = gram[m][2 * j] * ds.x * Exp2(gamma_row[j] - gs.x), v1 = gram[m][2 * j + 1] * ds.y * Exp2(gamma_row[j] - gs.y);
          if (diagonal) {
            v0 = s <= row + 8 * j ? v0 : 0.f;
            v1 = s + 1 <= row + 8 * j ? v1 : 0.f;
          }
          mix[2 * m + j] = PackBf16(v0, v1);
        }
      }
      const bf16* xs = Xs + (s0 + MatrixRow(lane, 1)) * kXs + MatrixColumn(lane, 2);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        uint32_t xf[4];
        LoadMatrices<true>(xf, xs + 16 * q);
        MmaBf16(acc[i][2 * q], mix, xf[0], xf[1]);
        MmaBf16(acc[i][2 * q + 1], mix, xf[2], xf[3]);
      }
    };
    for (int s0 = 0; s0 < 16 * r; s0 += 16) causal_tile(s0, false);
    causal_tile(16 * r, true);
  }
  // z of this thread's share of the epilogue (eight neighbours of a row, 16-byte accesses where rows allow), loaded
  // before the barrier so that the loads overlap the wait.
  const bool vector = P % 8 == 0 && (reinterpret_cast<uintptr_t>(a.y) | reinterpret_cast<uintptr_t>(a.z)) % 16 == 0;
  constexpr int kGroups = kQ * kOutColumns / 8 / kOutThreads;
  uint4 zq[kGroups];
#pragma unroll
  for (int j = 0; j < kGroups; ++j) {
    const int q = threadIdx.x + j * kOutThreads, t = q / (kOutColumns / 8), p = 8 * (q % (kOutColumns / 8));
    if (vector && a.z && t < n && p < columns) zq[j] = *reinterpret_cast<const uint4*>(a.z + x_at + t * x_stride + p);
  }
  __syncthreads();  // every warp is done with C, B and S: Ys takes their place
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int c = 0; c < 8; ++c) {
#pragma unroll
      for (int e = 0; e < 4; e += 2) {
        *reinterpret_cast<float2*>(Ys + (16 * tiles[i] + TileRow(e)) * kYs + TileColumn(c, e)) = make_float2(acc[i][c][e], acc[i][c][e + 1]);
      }
    }
  }
  __syncthreads();
  // y = (Ys + D x), gated.
#pragma unroll
  for (int j = 0; j < kGroups; ++j) {
    const int q = threadIdx.x + j * kOutThreads, t = q / (kOutColumns / 8), p = 8 * (q % (kOutColumns / 8));
    if (t >= n || p >= columns) continue;
    const int64_t at = x_at + t * x_stride + p;
    float y[8], x[8];
    LoadEight(Ys + t * kYs + p, y);
    LoadEight(Xs + t * kXs + p, x);
#pragma unroll
    for (int m = 0; m < 8; ++m) y[m] = fmaf(Ds[p + m], x[m], y[m]);
    if (vector) {
      if (a.z) {
        float z[8];
        Quad<bf16>::Unpack(make_uint2(zq[j].x, zq[j].y), *reinterpret_cast<float(*)[4]>(z));
        Quad<bf16>::Unpack(make_uint2(zq[j].z, zq[j].w), *reinterpret_cast<float(*)[4]>(z + 4));
#pragma unroll
        for (int m = 0; m < 8; ++m) y[m] *= Silu(z[m]);
      }
      StoreEight(a.y + at, y);
    } else {
      for (int m = 0; m < 8 && p + m < columns; ++m) StoreAs(a.y + at + m, a.z ? y[m] * Silu(ToFloat(a.z[at + m])) : y[m]);
    }
  }
}

// --- The output kernel on Hopper's warpgroup products (sm_90a), for dstate padded to 64 or 128 (kPanels = Np / 64
// panels of 64 states) and head dims in multiples of 8. A block of one warpgroup per (chunk, batch, head, 64 head
// dims), its tiles by the tensor memory accelerator in 128-byte swizzled rows (C's and B's rows of the chunk, the
// entering state's 64 rows, x's rows), counted by two mbarriers: C and the state first, so that the products with the
// state start while B and x land (1.2% at B1 L65536 on an H200). Each half of the chunk's tokens (64 rows, 16 per
// warp) takes three products: Y = C S^T and G = C B^T from shared memory into float32 accumulators, then, after Y
// is scaled by 2^gamma_t and G turned into the mixing matrix G ⊙ dt_s 2^(gamma_t - gamma_s) (s <= t, bf16) in the
// same registers' layout, Y += mix x with mix as the A operand in registers and x's rows as an MN-major B. The
// second half's products run while the first half's mixing matrix is formed and its outputs written. y = Y + D x,
// gated by SiLU(z) (z prefetched into L2 at the start), goes out through shared memory (where C's first rows were)
// by bulk tensor stores.
struct WgmmaOutputMaps {
  CUtensorMap c, b, s, x, z, y;  // c, b, x: boxes of 64 x kQ; s, y: 64 x 64; all swizzled (z: prefetched only)
};
template <int kPanels>
struct WgmmaOutputLayout {  // byte offsets in the block's 1024-aligned shared memory
  static constexpr int kC = 0;                              // [kPanels][kQ tokens][64 states]
  static constexpr int kB = kC + kPanels * kQ * 128;        // [kPanels][kQ tokens][64 states]
  static constexpr int kS = kB + kPanels * kQ * 128;        // [kPanels][64 head dims][64 states]
  static constexpr int kX = kS + kPanels * 64 * 128;        // [kQ tokens][64 head dims]
  static constexpr int kFirst = kPanels * (kQ + 64) * 128;  // the bytes of C and the state (the first mbarrier's)
  static constexpr int kTiles = kX + kQ * 128;              // the bytes all copies bring
  static constexpr int kFloats = kTiles;                    // gamma [kQ], dt [kQ], D [64]
  static constexpr int kBarrier = kFloats + 4 * (2 * kQ + 64);
  static constexpr int kBytes = kBarrier + 16;  // two mbarriers
};
template <int kPanels>
constexpr size_t WgmmaOutputShared() { return 1024 + WgmmaOutputLayout<kPanels>::kBytes; }

// blockIdx.x = (chunk * batch * heads + bh) * ceil(P / 64) + column block, as OutputKernel's.
template <int kPanels>
__global__ void __launch_bounds__(128, 2) WgmmaOutputKernel(const SsdChunkArgs<bf16> a, const Bf16Workspace w, int64_t first_chunk,
                                                            const __grid_constant__ WgmmaOutputMaps maps) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using L = WgmmaOutputLayout<kPanels>;
  constexpr int kSteps = 4 * kPanels;  // depth steps of 16 states
  LS_SHARED(float4, shared4);
  const uint32_t shared_at = static_cast<uint32_t>(__cvta_generic_to_shared(shared4));
  char* base = reinterpret_cast<char*>(shared4) + ((shared_at + 1023) / 1024 * 1024 - shared_at);
  const uint32_t at = static_cast<uint32_t>(__cvta_generic_to_shared(base));
  float* gamma = reinterpret_cast<float*>(base + L::kFloats);
  float* dt = gamma + kQ;
  float* Ds = dt + kQ;
  uint64_t* landed = reinterpret_cast<uint64_t*>(base + L::kBarrier);
  const int P = a.P, column_blocks = (P + 63) / 64;
  const int64_t heads = a.batch * a.heads, chunk = blockIdx.x / column_blocks / heads, bh = blockIdx.x / column_blocks % heads;
  const int64_t record = bh * w.chunks + chunk;
  const int b = static_cast<int>(bh / a.heads), h = static_cast<int>(bh % a.heads), g = h / static_cast<int>(a.heads / a.groups);
  const int p0 = blockIdx.x % column_blocks * 64, t0 = static_cast<int>((first_chunk + chunk) * kQ);
  // C and the state on the first mbarrier (C S^T starts on them), B and x on the second.
  const uint32_t bar = ReadyBulkBarriers(landed, 2), bar_b = bar + 8;
  if (threadIdx.x == 0) {
    ArriveExpecting(bar, L::kFirst);
    ArriveExpecting(bar_b, L::kTiles - L::kFirst);
#pragma unroll
    for (int k = 0; k < kPanels; ++k) {
      CopyTile(at + L::kC + k * kQ * 128, &maps.c, 64 * k, g, t0, b, bar);
      CopyTile(at + L::kS + k * 64 * 128, &maps.s, 64 * k, 0, p0, static_cast<int>(record), bar);
    }
#pragma unroll
    for (int k = 0; k < kPanels; ++k) CopyTile(at + L::kB + k * kQ * 128, &maps.b, 64 * k, g, t0, b, bar_b);
    CopyTile(at + L::kX, &maps.x, p0, h, t0, b, bar_b);
    if (a.z) PrefetchTile(&maps.z, p0, h, t0, b);
  }
  // float differences of gamma suffice here: the products' operands are bf16
  gamma[threadIdx.x] = static_cast<float>(w.gamma[record * kQ + threadIdx.x]);
  dt[threadIdx.x] = w.dt[record * kQ + threadIdx.x];
  if (threadIdx.x < 64) Ds[threadIdx.x] = a.D && p0 + threadIdx.x < P ? a.D[a.D_per_dim ? h * P + p0 + threadIdx.x : h] : 0.f;
  WaitBulkStage(landed, 0);
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, row = 16 * warp + lane / 4;  // rows row, row + 8 of a half
  // Descriptors: depth step k of C's rows m0.., of B's rows and of the state; x's rows 16 j.. as the depth of mix x.
  const auto c_rows = [&](int k, int m0) { return SwizzledDescriptor(at + L::kC + k / 4 * kQ * 128 + m0 * 128 + k % 4 * 32); };
  const auto b_rows = [&](int k) { return SwizzledDescriptor(at + L::kB + k / 4 * kQ * 128 + k % 4 * 32); };
  const auto s_rows = [&](int k) { return SwizzledDescriptor(at + L::kS + k / 4 * 64 * 128 + k % 4 * 32); };
  const auto x_rows = [&](int j) { return SwizzledDescriptor(at + L::kX + j * 2048); };
  // Y (C S^T) scaled by 2^gamma_t, and mix's A fragments from G = C B^T (both in the accumulator layout: n8 tile n,
  // element e at row m0 + row + 8 (e / 2), column 8 n + 2 (lane % 4) + e % 2), by depth steps j of 16 tokens s; the
  // steps past this warp's rows are zeros (s > t), not formed.
  const auto mix = [&](const auto& G, int m0, float (&Y)[32], auto& A) {
    constexpr int kJ = sizeof(A) / sizeof(A[0]);
    const float gamma_row[2] = {gamma[m0 + row], gamma[m0 + row + 8]};
#pragma unroll
    for (int i = 0; i < 32; ++i) Y[i] *= Exp2(gamma_row[i % 4 / 2]);
#pragma unroll
    for (int j = 0; j < kJ; ++j) {
      if (16 * j > m0 + 16 * warp + 15) {
#pragma unroll
        for (int q = 0; q < 4; ++q) A[j][q] = 0;
        continue;
      }
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int n = 2 * j + half, s = 8 * n + 2 * (lane % 4);
        const float2 gs = *reinterpret_cast<const float2*>(gamma + s), ds = *reinterpret_cast<const float2*>(dt + s);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int t = m0 + row + 8 * r;
          const float v0 = s <= t ? G[4 * n + 2 * r] * ds.x * Exp2(gamma_row[r] - gs.x) : 0.f;
          const float v1 = s + 1 <= t ? G[4 * n + 2 * r + 1] * ds.y * Exp2(gamma_row[r] - gs.y) : 0.f;
          A[j][2 * half + r] = PackBf16(v0, v1);
        }
      }
    }
  };
  // y = Y + D x, gated, into the staging rows m0.. (C's rows m0.., free once their products are done), then out.
  const int64_t x_stride = a.heads * P;
  const bf16* z_rows = a.z ? a.z + (static_cast<int64_t>(b) * a.seqlen + t0) * x_stride + static_cast<int64_t>(h) * P + p0 : nullptr;
  const int n_valid = static_cast<int>(min(static_cast<int64_t>(kQ), a.seqlen - t0)), columns = min(64, P - p0);
  const auto load_z = [&](int m0, uint32_t (&zq)[16]) {
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const int t = m0 + row + 8 * (i % 2), p = 8 * (i / 2) + 2 * (lane % 4);
      zq[i] = z_rows && t < n_valid && p < columns ? *reinterpret_cast<const uint32_t*>(z_rows + t * x_stride + p) : 0u;
    }
  };
  const auto finish = [&](int m0, const float (&Y)[32], const uint32_t (&zq)[16]) {
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const int t = m0 + row + 8 * (i % 2), p = 8 * (i / 2) + 2 * (lane % 4);
      const uint32_t offset = SwizzledOffset(t, p);
      const uint32_t xq = *reinterpret_cast<const uint32_t*>(base + L::kX + offset);
      float y0 = fmaf(Ds[p], __uint_as_float(xq << 16), Y[4 * (i / 2) + 2 * (i % 2)]);
      float y1 = fmaf(Ds[p + 1], __uint_as_float(xq & 0xffff0000u), Y[4 * (i / 2) + 2 * (i % 2) + 1]);
      if (z_rows) y0 *= Silu(__uint_as_float(zq[i] << 16)), y1 *= Silu(__uint_as_float(zq[i] & 0xffff0000u));
      *reinterpret_cast<uint32_t*>(base + L::kC + offset) = PackBf16(y0, y1);
    }
    FenceSharedForBulk();
    __syncthreads();
    if (threadIdx.x == 0) {
      StoreTile(at + L::kC + m0 * 128, &maps.y, p0, h, t0 + m0, b);
      CommitBulkStores();
    }
  };

  float y0[32], g0[32], y1[32], g1[64];
  WgmmaFence();
#pragma unroll
  for (int k = 0; k < kSteps; ++k) WgmmaN64(y0, c_rows(k, 0), s_rows(k), k);
#pragma unroll
  for (int k = 0; k < kSteps; ++k) WgmmaN64(y1, c_rows(k, 64), s_rows(k), k);
  WaitBulkStage(landed + 1, 0);  // B and x
#pragma unroll
  for (int k = 0; k < kSteps; ++k) WgmmaN64(g0, c_rows(k, 0), b_rows(k), k);
  WgmmaCommit();
#pragma unroll
  for (int k = 0; k < kSteps; ++k) WgmmaN128(g1, c_rows(k, 64), b_rows(k), k);
  WgmmaCommit();
  // Once a half's first products are done (all groups but the last): its mixing matrix, and mix x into Y.
  const auto mix_products = [&](auto& G, int m0, float (&Y)[32], auto& A) {
    constexpr int kJ = sizeof(A) / sizeof(A[0]);
    WgmmaWait<1>();
    HoldRegisters(Y);
    HoldRegisters(G);
    mix(G, m0, Y, A);
    WgmmaFence();
#pragma unroll
    for (int j = 0; j < kJ; ++j) WgmmaN64RowsB(Y, A[j], x_rows(j));
    WgmmaCommit();
  };
  uint32_t z0[16], z1[16], a0[4][4], a1[8][4];
  load_z(0, z0);
  mix_products(g0, 0, y0, a0);
  mix_products(g1, 64, y1, a1);
  load_z(64, z1);
  WgmmaWait<1>();
  HoldRegisters(y0);
  HoldRegisters(a0);
  finish(0, y0, z0);
  WgmmaWait<0>();
  HoldRegisters(y1);
  HoldRegisters(a1);
  finish(64, y1, z1);
  if (threadIdx.x == 0) WaitBulkStoresRead();
#endif
}

#ifndef LONGSEQ_CUDA_EMULATE
// The bf16 form's kernels and the shared memory each is opted in to.
std::array<KernelShared, 9> Kernels() {
  return {{{reinterpret_cast<const void*>(WalkKernel<16, 4, 4>), WalkShared(16, 64, 4)},
           {reinterpret_cast<const void*>(WalkKernel<32, 8, 3>), WalkShared(32, 128, 3)},
           {reinterpret_cast<const void*>(WgmmaWalkKernel), WgmmaWalkShared()},
           {reinterpret_cast<const void*>(OutputKernel<4, false>), OutputShared(64)},
           {reinterpret_cast<const void*>(OutputKernel<8, false>), OutputShared(128)},
           {reinterpret_cast<const void*>(OutputKernel<4, true>), OutputShared(64)},
           {reinterpret_cast<const void*>(OutputKernel<8, true>), OutputShared(128)},
           {reinterpret_cast<const void*>(WgmmaOutputKernel<1>), WgmmaOutputShared<1>()},
           {reinterpret_cast<const void*>(WgmmaOutputKernel<2>), WgmmaOutputShared<2>()}}};
}
#endif  // LONGSEQ_CUDA_EMULATE

}  // namespace

#ifndef LONGSEQ_CUDA_EMULATE
size_t SsdChunkedBf16SharedMost() { return MostShared(Kernels()); }

ls_status LaunchSsdChunkedBf16(const ls_ssd_scan_params& p, cudaStream_t stream) {
  SsdChunkArgs<bf16> a = MakeSsdChunkArgs<bf16>(p);
  a.Np = a.Np <= 64 ? 64 : 128;  // the output kernel's product depths (zeros past dstate)
  const int64_t heads = p.batch * p.heads, chunks = (p.seqlen + kQ - 1) / kQ;
  // The walk on warpgroup products where the device runs them and x and B allow their tensor maps.
  CUtensorMap x_tiles = {}, b_tiles = {};
  const bool wgmma = HasWgmma() && EncodeTokenTiles(&x_tiles, p.x, p.batch, p.seqlen, p.heads, p.head_dim, kWgmmaRows, kQ, 128) &&
                     EncodeTokenTiles(&b_tiles, p.B, p.batch, p.seqlen, p.groups, p.dstate, kWgmmaStates, kQ, 64);
  const int64_t chunk_bytes = heads * (12 * kQ + 4 * kSsdWeights + 2 * int64_t{a.P} * a.Np);
  const int64_t per_segment = std::min(chunks, std::max<int64_t>(1, WorkspaceLimit(kWorkspaceBytes) / chunk_bytes));
  const int64_t column_blocks = (a.P + kOutColumns - 1) / kOutColumns;
  // Without wgmma, the walk: where (batch, head, 16 head dims) are no more than the SMs, blocks of 16 head dims and 64 states
  // (four warps, two blocks to an SM, one's barriers under the other's work), four chunks staged (110 KB each:
  // the copies have two chunks' time to land); else 32 head dims and 128 states (each B fragment feeds two row
  // tiles, each x fragment eight warps), three chunks staged (four would take 203 KB, past an A100's 163).
  const bool few = heads * ((a.P + 15) / 16) <= Multiprocessors();
  const int walk_rows = few ? 16 : 32, walk_columns = few ? 64 : 128, walk_stages = few ? 4 : 3;
  const int64_t walk_blocks = wgmma ? heads * ((a.P + kWgmmaRows - 1) / kWgmmaRows) * (a.Np / kWgmmaStates)
                                   : heads * ((a.P + walk_rows - 1) / walk_rows) * ((a.Np + walk_columns - 1) / walk_columns);
  if (heads * per_segment * column_blocks >= (int64_t{1} << 31) || walk_blocks >= (int64_t{1} << 31)) {
    return ls::Fail(LS_INVALID_ARGUMENT, "ssdScan on the GPU: batch * heads * head_dim is too large for one launch");
  }
  LS_CUDA_TRY(Once([] { return AllowSharedMemory(Kernels()); }), "ssdScan");

  DeviceScratch workspace(stream), temporary_state(stream);
  if (ls_status s = workspace.Allocate(chunk_bytes * per_segment)) return s;
  Bf16Workspace w;
  w.gamma = workspace.get<double>();
  w.dt = reinterpret_cast<float*>(w.gamma + heads * per_segment * kQ);
  w.weights = w.dt + heads * per_segment * kQ;
  w.state = reinterpret_cast<bf16*>(w.weights + heads * per_segment * kSsdWeights);
  float* state;
  if (ls_status s = CarriedState(p, per_segment < chunks, temporary_state, state)) return s;
  // On sm_90a, where every tile has its tensor map, the outputs on warpgroup products.
  WgmmaOutputMaps wgmma_maps = {};
  wgmma_maps.x = x_tiles;
  const bool wgmma_output = wgmma &&
                            EncodeTokenTiles(&wgmma_maps.c, p.C, p.batch, p.seqlen, p.groups, p.dstate, 64, kQ, 128) &&
                            EncodeTokenTiles(&wgmma_maps.b, p.B, p.batch, p.seqlen, p.groups, p.dstate, 64, kQ, 128) &&
                            EncodeTokenTiles(&wgmma_maps.s, w.state, heads * per_segment, a.P, 1, a.Np, 64, 64, 128) &&
                            (!p.z || EncodeTokenTiles(&wgmma_maps.z, p.z, p.batch, p.seqlen, p.heads, p.head_dim, 64, kQ)) &&
                            EncodeTokenTiles(&wgmma_maps.y, p.y, p.batch, p.seqlen, p.heads, p.head_dim, 64, 64, 128);
  // Else the mma.sync output kernel's tiles by tensor maps where they can be made (sm_90, rows of 16-byte multiples):
  // 636 against 652 us of kernel time at B1 L65536 H32 on an H200, where its blocks staged them by cp.async.
  OutputTiles tiles = {};
  const int ns = Padded(a.Np);
  const bool tma = !wgmma_output && EncodeTokenTiles(&tiles.c, p.C, p.batch, p.seqlen, p.groups, p.dstate, ns, kQ) &&
                   EncodeTokenTiles(&tiles.b, p.B, p.batch, p.seqlen, p.groups, p.dstate, ns, kQ) &&
                   EncodeTokenTiles(&tiles.s, w.state, heads * per_segment, a.P, 1, a.Np, ns, kOutColumns) &&
                   EncodeTokenTiles(&tiles.x, p.x, p.batch, p.seqlen, p.heads, p.head_dim, Padded(kOutColumns), kQ);
  for (int64_t first = 0; first < chunks; first += per_segment) {
    w.chunks = std::min(per_segment, chunks - first);
    SsdDecayKernel<bf16><<<static_cast<unsigned>(heads * w.chunks), kQ, 0, stream>>>(a, w.gamma, w.dt, w.weights, w.chunks, first);
    if (wgmma) {
      WgmmaWalkKernel<<<static_cast<unsigned>(walk_blocks), kWgmmaThreads, WgmmaWalkShared(), stream>>>(
          a, w, x_tiles, b_tiles, first, first == 0 ? p.initial_state : state, state);
    } else {
      const auto walk = few ? WalkKernel<16, 4, 4> : WalkKernel<32, 8, 3>;
      walk<<<static_cast<unsigned>(walk_blocks), 2 * walk_columns, WalkShared(walk_rows, walk_columns, walk_stages), stream>>>(
          a, w, first, first == 0 ? p.initial_state : state, state);
    }
    const unsigned output_blocks = static_cast<unsigned>(heads * w.chunks * column_blocks);
    if (wgmma_output) {
      const auto output = a.Np == 64 ? WgmmaOutputKernel<1> : WgmmaOutputKernel<2>;
      output<<<output_blocks, 128, a.Np == 64 ? WgmmaOutputShared<1>() : WgmmaOutputShared<2>(), stream>>>(a, w, first, wgmma_maps);
    } else {
      const auto output = tma ? (a.Np == 64 ? OutputKernel<4, true> : OutputKernel<8, true>) : (a.Np == 64 ? OutputKernel<4, false> : OutputKernel<8, false>);
      output<<<output_blocks, kOutThreads, OutputShared(a.Np), stream>>>(a, w, first, tiles);
    }
    LS_CUDA_TRY(cudaGetLastError(), "ssdScan (chunked, bf16) launch");
  }
  return LS_OK;
}

#endif  // LONGSEQ_CUDA_EMULATE

}  // namespace cuda
}  // namespace ls
