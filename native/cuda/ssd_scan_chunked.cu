// Mamba-2's SSD scan on the GPU in the chunked form (the state-space duality; the CPU's ChunkedHead in
// cpu/ssd_scan.cc is the same math), its matrix products on tensor cores in 3xTF32 (tensor_core.cuh: float32
// accuracy); x, z, B, C and y in float32 storage (bf16 storage: ssd_scan_chunked_bf16.cu). Per head, in chunks of
// kQ tokens, with gamma_t = sum of dt_u A over the chunk's tokens u <= t:
//   y_t   = e^gamma_t C_t S_in + sum_{s <= t} (C_t . B_s) e^(gamma_t - gamma_s) dt_s x_s + D x_t, then the z gate
//   S_out = e^gamma_last S_in + sum_s e^(gamma_last - gamma_s) dt_s x_s B_s^T
// Four kernels per segment of the sequence:
//  - SsdDecayKernel (ssd_scan_chunked.h), per (batch, head, chunk): dt and gamma, in float64;
//  - GramKernel, per (batch, group, chunk): the lower triangle of C B^T, shared by the group's heads;
//  - StateKernel, per (batch, head, 16 or 32 head dims): the walk over chunks with the state's slice in registers.
//    It writes the state entering each chunk and adds the chunk's own part, a product over the chunk's tokens that
//    does not depend on the walk: no chain of dependent latencies, the next operands arriving by cp.async under
//    the product;
//  - OutputKernel, per (batch, head, chunk, 64 head dims): y from the entering state and the chunk's tokens.
// Decays appear only as exp of differences of cumulative log-decays within a chunk. The workspace holds one
// segment at a time (kWorkspaceBytes); the state goes from segment to segment through the final-state buffer (or a
// temporary one).
#include <algorithm>

#ifndef LONGSEQ_CUDA_EMULATE  // else the kernels alone, on the CPU (cuda/emulate.h)
#include "cuda/common.cuh"
#endif
#include "cuda/ssd_scan_chunked.h"
#include "cuda/tensor_core.cuh"

namespace ls {
namespace cuda {
namespace {

constexpr int kQ = kSsdChunk;
constexpr int kMaxPadded = 128;   // dstate rounded up to 16
constexpr int kThreads = 256;     // 8 warps
constexpr int kOutColumns = 64;   // head dims per OutputKernel block
constexpr int64_t kWorkspaceBytes = int64_t{256} << 20;

// Row strides in shared memory for conflict-free fragment loads (tensor_core.cuh): a row-major A operand and a B
// operand read as columns want 4 or 20 mod 32, a row-major B operand and a transposed A operand 8 or 24.
__host__ __device__ constexpr int RowStride(int Np) { return Np + 4; }
__host__ __device__ constexpr int ColumnStride(int Np) { return Np + 8; }
constexpr int kMixStride = kQ + 4;
constexpr int kOutStride = kOutColumns + 8;
constexpr int kSlice = 64;  // states per round of OutputKernel's product with the entering state
constexpr int kSliceStride = kSlice + 4;

// Two neighbouring elements as floats, and back (aligned to two elements).
__device__ __forceinline__ float2 LoadPair(const float* p) { return *reinterpret_cast<const float2*>(p); }
__device__ __forceinline__ void StorePair(float* p, float a, float b) { *reinterpret_cast<float2*>(p) = make_float2(a, b); }

// One segment's chunks.
struct SsdWorkspace {
  double* gamma;  // [batch * heads][chunks][kQ] cumulative log2-decays within each chunk
  float* dt;      // [batch * heads][chunks][kQ] step sizes (0 past the end)
  float* gram;    // [batch * groups][chunks][kQ][kQ] C B^T (lower triangle)
  float* state;   // [batch * heads][chunks][P][Np] the state entering each chunk
  int64_t chunks;
};

size_t GramShared(int Np) { return sizeof(float) * 2 * kQ * RowStride(Np); }
__host__ __device__ constexpr int WalkStride(int rows) { return rows + 8; }
size_t StateShared(int tokens, int rows, int Np) {
  return sizeof(float) * 2 * (tokens * (WalkStride(rows) + ColumnStride(Np)) + 3 * kQ);
}
// OutputKernel's staging: first a slice of C and of the entering state at a time, then C B^T in the same space.
constexpr int kOutStaging = std::max(kQ * kMixStride, (kQ + kOutColumns) * kSliceStride);
constexpr size_t kOutputShared = sizeof(float) * (kOutStaging + kQ * (kOutStride + 3));

// blockIdx.x = bg * w.chunks + chunk: C B^T's 36 tiles of 16 x 16 on and below the diagonal.
__global__ void __launch_bounds__(kThreads) GramKernel(const SsdChunkArgs<float> a, const SsdWorkspace w, int64_t first_chunk) {
  LS_SHARED(float, shared);
  const int Np = a.Np, rs = RowStride(Np);
  float* Cs = shared;          // [kQ][rs]
  float* Bs = Cs + kQ * rs;    // [kQ][rs]
  const int64_t bg = blockIdx.x / w.chunks, chunk = blockIdx.x % w.chunks;
  const int64_t t0 = (first_chunk + chunk) * kQ;
  const int n = static_cast<int>(min(static_cast<int64_t>(kQ), a.seqlen - t0));
  const int64_t row0 = ((bg / a.groups * a.seqlen + t0) * a.groups + bg % a.groups) * a.N;
  StageRows(Cs, rs, a.C + row0, a.groups * a.N, kQ, n, Np, a.N);
  StageRows(Bs, rs, a.B + row0, a.groups * a.N, kQ, n, Np, a.N);
  CommitCopies();
  WaitCopies<0>();
  __syncthreads();
  float* gram = w.gram + blockIdx.x * kQ * kQ;
  for (int unit = threadIdx.x / 32; unit < kQ / 16 * (kQ / 16 + 1) / 2; unit += kThreads / 32) {
    int r = 0;
    while ((r + 1) * (r + 2) / 2 <= unit) ++r;
    const int c = unit - r * (r + 1) / 2;
    float acc[2][4] = {};
    WarpProduct<2>(acc, Cs + 16 * r * rs, rs, 1, Bs + 16 * c * rs, 1, rs, Np);
#pragma unroll
    for (int m = 0; m < 2; ++m) {
#pragma unroll
      for (int e = 0; e < 4; ++e) gram[(16 * r + TileRow(e)) * kQ + 16 * c + TileColumn(m, e)] = acc[m][e];
    }
  }
}

// blockIdx.x = bh * ceil(P / kRows) + row block; warp w keeps state columns 16 w .. 16 w + 15 of the block's kRows
// rows. Operands arrive kTokens tokens at a time by cp.async, double-buffered. Two shapes: 16 rows and whole chunks (one
// block per SM) where blocks are few, 32 rows (each B fragment feeds two row tiles) and half chunks (two blocks fit
// an SM) where there are more than SMs. state_in (null: zeros) and state_out (null: not kept) may be the same.
template <int kTokens, int kRows>
__global__ void __launch_bounds__(kThreads, kQ / kTokens) StateKernel(const SsdChunkArgs<float> a, const SsdWorkspace w, int64_t first_chunk,
                                                                   const float* state_in, float* state_out) {
  constexpr int kParts = kQ / kTokens, kTiles = kRows / 16, kWalkStride = WalkStride(kRows);
  LS_SHARED(float, shared);
  const int Np = a.Np, cs = ColumnStride(Np), P = a.P, N = a.N;
  float* Xs = shared;                          // [2][kTokens][kWalkStride] x, then scaled by dt e^(gamma_last - gamma)
  float* Bs = Xs + 2 * kTokens * kWalkStride;  // [2][kTokens][cs]
  double* gammas = reinterpret_cast<double*>(Bs + 2 * kTokens * cs);  // [2][kQ] by chunk parity
  float* dts = reinterpret_cast<float*>(gammas + 2 * kQ);               // [2][kQ] by chunk parity
  const int row_blocks = (P + kRows - 1) / kRows;
  const int64_t bh = blockIdx.x / row_blocks, b = bh / a.heads, h = bh % a.heads, g = h / (a.heads / a.groups);
  const int p0 = blockIdx.x % row_blocks * kRows, rows = min(kRows, P - p0);
  const int c0 = threadIdx.x / 32 * 16;
  const bool active = c0 < Np;
  const float* x_rows = a.x + (b * a.seqlen * a.heads + h) * P + p0;  // token t's row at x_rows + t H P
  const float* b_rows = a.B + (b * a.seqlen * a.groups + g) * N;      // token t's row at b_rows + t G N

  float S[kTiles][2][4];  // the state's 16 x 16 tiles (rows p0 + 16 i.., columns c0..), mma accumulator layout
  // f(element, row, column) for each of this thread's state elements; row and column within the block's slice.
  const auto each_state = [&](auto&& f) {
#pragma unroll
    for (int i = 0; i < kTiles; ++i) {
#pragma unroll
      for (int m = 0; m < 2; ++m) {
#pragma unroll
        for (int e = 0; e < 4; ++e) f(S[i][m][e], 16 * i + TileRow(e), c0 + TileColumn(m, e));
      }
    }
  };
  const float* state_from = state_in ? state_in + (bh * P + p0) * N : nullptr;
  each_state([&](float& x, int row, int column) {
    x = state_from && row < rows && column < N ? state_from[static_cast<int64_t>(row) * N + column] : 0.f;
  });
  // Unit u is part u % kParts of chunk u / kParts, in buffer u % 2.
  const int64_t units = kParts * w.chunks;
  const auto stage = [&](int64_t unit) {
    if (unit < units) {
      const int part = static_cast<int>(unit % kParts), buffer = static_cast<int>(unit & 1);
      const int64_t chunk = unit / kParts, t0 = (first_chunk + chunk) * kQ + part * kTokens, record = bh * w.chunks + chunk;
      const int n = static_cast<int>(min(static_cast<int64_t>(kTokens), a.seqlen - t0));  // may be <= 0: all zeros
      StageRows(Xs + buffer * kTokens * kWalkStride, kWalkStride, x_rows + t0 * a.heads * P, a.heads * P, kTokens, n, kRows, rows);
      StageRows(Bs + buffer * kTokens * cs, cs, b_rows + t0 * a.groups * N, a.groups * N, kTokens, n, Np, N);
      if (part == 0) {
        const int parity = static_cast<int>(chunk & 1);
        StageRows(reinterpret_cast<float*>(gammas + parity * kQ), 0, reinterpret_cast<const float*>(w.gamma + record * kQ), 0,
                  1, 1, 2 * kQ, 2 * kQ);
        StageRows(dts + parity * kQ, 0, w.dt + record * kQ, 0, 1, 1, kQ, kQ);
      }
    }
    CommitCopies();
  };
  // The unit's products, its operands in buffer unit % 2 and visible to the block.
  const auto process = [&](int64_t unit) {
    const int part = static_cast<int>(unit % kParts), buffer = static_cast<int>(unit & 1);
    const int64_t chunk = unit / kParts;
    float* X = Xs + buffer * kTokens * kWalkStride;
    const float* Bc = Bs + buffer * kTokens * cs;
    const double* gamma = gammas + (chunk & 1) * kQ;
    float* dt = dts + (chunk & 1) * kQ;
    if (part == 0) {
      if (threadIdx.x < kQ) dt[threadIdx.x] *= Exp2(static_cast<float>(gamma[kQ - 1] - gamma[threadIdx.x]));
      if (active) {  // the state entering the chunk
        float* out = w.state + (bh * w.chunks + chunk) * P * Np + static_cast<int64_t>(p0) * Np;
        each_state([&](float x, int row, int column) {
          if (row < rows) out[row * Np + column] = x;
        });
      }
      __syncthreads();
    }
    for (int i = threadIdx.x; i < kTokens * kRows; i += kThreads) X[i / kRows * kWalkStride + i % kRows] *= dt[part * kTokens + i / kRows];
    __syncthreads();
    if (active) {  // S <- e^gamma_last S + (x scaled)^T B, the decay once per chunk
      if (part == 0) {
        const float decay = Exp2(static_cast<float>(gamma[kQ - 1]));
        each_state([&](float& x, int, int) { x *= decay; });
      }
      const float* tiles[kTiles];  // A's row tile i: x's columns 16 i..
#pragma unroll
      for (int i = 0; i < kTiles; ++i) tiles[i] = X + 16 * i;
      WarpProducts<kTiles, 2>(S, tiles, 1, kWalkStride, Bc + c0, cs, 1, kTokens);
    }
    __syncthreads();
  };
  stage(0);
  stage(1);
  for (int64_t unit = 0; unit < units; ++unit) {
    WaitCopies<1>();  // this unit's operands
    __syncthreads();
    process(unit);
    stage(unit + 2);
  }
  if (state_out && active) {
    float* state_to = state_out + (bh * P + p0) * N;
    each_state([&](float x, int row, int column) {
      if (row < rows && column < N) state_to[static_cast<int64_t>(row) * N + column] = x;
    });
  }
}

// blockIdx.x = (bh * w.chunks + chunk) * ceil(P / kOutColumns) + column block. Warp w takes row tiles w / 2 and
// 7 - w / 2 (the causal part's work is then the same for every warp) and the column half w % 2. Staged a slice of
// states at a time, two blocks fit an SM (one block alone waited on its loads most of the time).
__global__ void __launch_bounds__(kThreads, 2) OutputKernel(const SsdChunkArgs<float> a, const SsdWorkspace w, int64_t first_chunk) {
  LS_SHARED(float, shared);
  const int Np = a.Np, P = a.P;
  float* Cs = shared;                       // [kQ][kSliceStride] a slice of C's states
  float* Ss = Cs + kQ * kSliceStride;       // [kOutColumns][kSliceStride] the same slice of the entering state's rows
  float* Ms = shared;                       // [kQ][kMixStride] then C B^T, then the causal mixing matrix
  float* Xs = shared + kOutStaging;         // [kQ][kOutStride]
  double* gamma = reinterpret_cast<double*>(Xs + kQ * kOutStride);  // [kQ]
  float* dt = reinterpret_cast<float*>(gamma + kQ);                  // [kQ]
  const int column_blocks = (P + kOutColumns - 1) / kOutColumns;
  const int64_t record = blockIdx.x / column_blocks, bh = record / w.chunks, chunk = record % w.chunks;
  const int64_t b = bh / a.heads, h = bh % a.heads, g = h / (a.heads / a.groups);
  const int p0 = blockIdx.x % column_blocks * kOutColumns, columns = min(kOutColumns, P - p0);
  const int64_t t0 = (first_chunk + chunk) * kQ;
  const int n = static_cast<int>(min(static_cast<int64_t>(kQ), a.seqlen - t0));
  const int64_t x_at = ((b * a.seqlen + t0) * a.heads + h) * P + p0;  // token t's row at x_at + t H P
  const float* C = a.C + ((b * a.seqlen + t0) * a.groups + g) * a.N;
  const float* S = w.state + record * P * Np + static_cast<int64_t>(p0) * Np;

  StageRows(Xs, kOutStride, a.x + x_at, a.heads * P, kQ, n, kOutColumns, columns);
  StageRows(reinterpret_cast<float*>(gamma), 0, reinterpret_cast<const float*>(w.gamma + record * kQ), 0, 1, 1, 2 * kQ, 2 * kQ);
  StageRows(dt, 0, w.dt + record * kQ, 0, 1, 1, kQ, kQ);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, half = warp % 2;
  const int tiles[2] = {warp / 2, kQ / 16 - 1 - warp / 2};
  float acc[2][4][4] = {};
  for (int n0 = 0; n0 < Np; n0 += kSlice) {  // C S^T
    const int width = min(kSlice, Np - n0);
    if (n0 > 0) __syncthreads();  // the previous slice's readers are done
    StageRows(Cs, kSliceStride, C + n0, a.groups * a.N, kQ, n, width, min(width, a.N - n0));
    StageRows(Ss, kSliceStride, S + n0, Np, kOutColumns, columns, width, width);
    CommitCopies();
    WaitCopies<0>();
    __syncthreads();
    const float* const rows[2] = {Cs + 16 * tiles[0] * kSliceStride, Cs + 16 * tiles[1] * kSliceStride};
    WarpProducts<2, 4>(acc, rows, kSliceStride, 1, Ss + 32 * half * kSliceStride, 1, kSliceStride, width);
  }
  __syncthreads();
  StageRows(Ms, kMixStride, w.gram + ((b * a.groups + g) * w.chunks + chunk) * kQ * kQ, kQ, kQ, kQ, kQ, kQ);
  CommitCopies();
#pragma unroll
  for (int i = 0; i < 2; ++i) {  // e^gamma_t on the state's part, while C B^T arrives
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float to_token = Exp2(static_cast<float>(gamma[16 * tiles[i] + TileRow(e)]));
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][c][e] *= to_token;
    }
  }
  WaitCopies<0>();
  __syncthreads();
  for (int t = warp; t < kQ; t += kThreads / 32) {
    const double to_row = gamma[t];
    for (int s = lane; s < (t / 16 + 1) * 16; s += 32) {
      float& m = Ms[t * kMixStride + s];
      m = s <= t ? m * dt[s] * Exp2(static_cast<float>(to_row - gamma[s])) : 0.f;
    }
  }
  __syncthreads();
#pragma unroll
  for (int i = 0; i < 2; ++i) {  // + the causal part: row tile r needs the first 16 (r + 1) tokens only
    WarpProduct<4>(acc[i], Ms + 16 * tiles[i] * kMixStride, kMixStride, 1, Xs + 32 * half, kOutStride, 1, 16 * (tiles[i] + 1));
  }
  // y = acc + D x, gated; accumulator elements e, e + 1 are neighbours in a row: one float2 access where aligned.
  const bool pairs = P % 2 == 0 && (reinterpret_cast<uintptr_t>(a.y) | reinterpret_cast<uintptr_t>(a.z)) % 8 == 0;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int c = 0; c < 4; ++c) {
#pragma unroll
      for (int e = 0; e < 4; e += 2) {
        const int t = 16 * tiles[i] + TileRow(e), p = 32 * half + TileColumn(c, e);
        if (t >= n || p >= columns) continue;
        const int64_t at = x_at + static_cast<int64_t>(t) * a.heads * P + p;
        float y[2];
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const float D = a.D ? a.D[a.D_per_dim ? h * P + p0 + min(p + j, columns - 1) : h] : 0.f;
          y[j] = fmaf(D, Xs[t * kOutStride + p + j], acc[i][c][e + j]);
        }
        if (pairs && p + 1 < columns) {
          if (a.z) {
            const float2 z = LoadPair(a.z + at);
            y[0] *= Silu(z.x), y[1] *= Silu(z.y);
          }
          StorePair(a.y + at, y[0], y[1]);
        } else {
          for (int j = 0; j < 2 && p + j < columns; ++j) StoreAs(a.y + at + j, a.z ? y[j] * Silu(ToFloat(a.z[at + j])) : y[j]);
        }
      }
    }
  }
}

}  // namespace

#ifndef LONGSEQ_CUDA_EMULATE
namespace {
// The float32 form's kernels and the shared memory each is opted in to (its most, at dstate 128).
std::array<KernelShared, 4> Kernels() {
  return {{{reinterpret_cast<const void*>(GramKernel), GramShared(kMaxPadded)},
           {reinterpret_cast<const void*>(StateKernel<kQ, 16>), StateShared(kQ, 16, kMaxPadded)},
           {reinterpret_cast<const void*>(StateKernel<kQ / 2, 32>), StateShared(kQ / 2, 32, kMaxPadded)},
           {reinterpret_cast<const void*>(OutputKernel), kOutputShared}}};
}
}  // namespace

bool SsdChunkedFits(const ls_ssd_scan_params& p) {
  const size_t shared = p.storage == LS_BFLOAT16 ? SsdChunkedBf16SharedMost() : MostShared(Kernels());
  return p.dstate <= kMaxPadded && shared <= static_cast<size_t>(SharedMemoryOptIn());
}

namespace {

ls_status Launch(const ls_ssd_scan_params& p, cudaStream_t stream) {
  const int Np = static_cast<int>((p.dstate + 15) / 16 * 16), P = static_cast<int>(p.head_dim);
  const int64_t heads = p.batch * p.heads, groups = p.batch * p.groups, chunks = (p.seqlen + kQ - 1) / kQ;
  const int64_t chunk_bytes = heads * (12 * kQ + 4 * int64_t{P} * Np) + groups * 4 * kQ * kQ;
  const int64_t per_segment = std::min(chunks, std::max<int64_t>(1, WorkspaceLimit(kWorkspaceBytes) / chunk_bytes));
  const int64_t column_blocks = (P + kOutColumns - 1) / kOutColumns;
  // The walk's shape (StateKernel): 16 rows and whole chunks while its blocks fit the SMs, else 32 rows by halves.
  const bool few = heads * ((P + 15) / 16) <= Multiprocessors();
  const int walk_rows = few ? 16 : 32, row_blocks = (P + walk_rows - 1) / walk_rows;
  if (heads * per_segment * column_blocks >= (int64_t{1} << 31) || heads * row_blocks >= (int64_t{1} << 31)) {
    return ls::Fail(LS_INVALID_ARGUMENT, "ssdScan on the GPU: batch * heads * head_dim is too large for one launch");
  }
  LS_CUDA_TRY(Once([] { return AllowSharedMemory(Kernels()); }), "ssdScan");

  DeviceScratch workspace(stream), temporary_state(stream);
  if (ls_status s = workspace.Allocate(chunk_bytes * per_segment)) return s;
  SsdWorkspace w;
  w.gamma = workspace.get<double>();
  w.dt = reinterpret_cast<float*>(w.gamma + heads * per_segment * kQ);
  w.gram = w.dt + heads * per_segment * kQ;
  w.state = w.gram + groups * per_segment * kQ * kQ;
  float* state;
  if (ls_status s = CarriedState(p, per_segment < chunks, temporary_state, state)) return s;
  const SsdChunkArgs<float> a = MakeSsdChunkArgs<float>(p);
  for (int64_t first = 0; first < chunks; first += per_segment) {
    w.chunks = std::min(per_segment, chunks - first);
    SsdDecayKernel<float><<<static_cast<unsigned>(heads * w.chunks), kQ, 0, stream>>>(a, w.gamma, w.dt, nullptr, w.chunks, first);
    GramKernel<<<static_cast<unsigned>(groups * w.chunks), kThreads, GramShared(Np), stream>>>(a, w, first);
    const auto walk = few ? StateKernel<kQ, 16> : StateKernel<kQ / 2, 32>;
    walk<<<static_cast<unsigned>(heads * row_blocks), kThreads, few ? StateShared(kQ, 16, Np) : StateShared(kQ / 2, 32, Np), stream>>>(
        a, w, first, first == 0 ? p.initial_state : state, state);
    OutputKernel<<<static_cast<unsigned>(heads * w.chunks * column_blocks), kThreads, kOutputShared, stream>>>(a, w, first);
    LS_CUDA_TRY(cudaGetLastError(), "ssdScan (chunked) launch");
  }
  return LS_OK;
}

}  // namespace

ls_status LaunchSsdChunked(const ls_ssd_scan_params& p, cudaStream_t stream) {
  return p.storage == LS_BFLOAT16 ? LaunchSsdChunkedBf16(p, stream) : Launch(p, stream);
}

#endif  // LONGSEQ_CUDA_EMULATE

}  // namespace cuda
}  // namespace ls
