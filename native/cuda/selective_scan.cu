// The Mamba-1 selective scan on the GPU (ls_selective_scan_cuda); math and layouts as ls_selective_scan_cpu.
//
// One warp scans one channel d. A tile is 128 time steps: lane l owns steps 4l..4l+3, so its u, delta, z and y
// are one vector access each, and a warp's accesses are contiguous. Per tile and per group of 8 states:
//   local   each lane runs its 4 steps from a zero state: h, the segment's decay product P = Π exp(Δ·A), the
//           partial outputs Σ_n C·h, and W_t[n] = C_t[n]·Π_{s<=t} exp(Δ_s·A[n]), the weight with which the
//           segment's start state reaches y_t;
//   scan    an inclusive warp scan of (P, h) under (P1,h1)∘(P2,h2) = (P1·P2, P2·h1 + h2), seeded with the
//           channel's carry (the state after the previous tile), gives every lane its start state h0;
//   finish  y_t += Σ_n W_t[n]·h0[n].
// So each (step, state) costs one exp (the special-function unit's limit: dstate exps per element) and a few
// FMAs. The warps of a block are channels of one group: the block stages the B and C tiles in shared memory
// once for all of them, double-buffered with cp.async so the next tile loads while this one computes; each warp
// stages its channel's u, delta and z for the next tile the same way. Where two buffers do not fit a block (float32
// past 48 states on GPUs whose blocks may have 99 KB: sm_86, sm_89), one buffer, refilled after each tile.
#include <algorithm>

#ifdef LONGSEQ_CUDA_EMULATE  // the kernel alone, on the CPU (cuda/emulate.h)
#include "cuda/device.cuh"
#include "longseq/longseq.h"
#else
#include "cpu/selective_scan.h"
#include "cuda/common.cuh"
#endif

namespace ls {
namespace cuda {
namespace {

constexpr int kLanes = 32;
constexpr int kStatePad = 8;               // dstate is padded to a multiple of this (the largest state group)
constexpr int kMaxStates = 64;
constexpr int kWarps = 8;                  // channels per block at most (see ChooseWarps)

struct ScanArgs {
  int64_t batch, dim, dstate, seqlen, groups;
  const void *u, *delta, *z, *B, *C;
  ls_row_strides u_strides, delta_strides, z_strides, B_strides, C_strides, y_strides;
  const float *A, *D, *delta_bias, *initial_state;
  void* y;
  float* final_state;
  bool delta_softplus;
  int states_padded;  // dstate rounded up to kStatePad
  int warps;
  int64_t blocks_per_group;
};

// Stores a lane's 4 steps at `t` of a row (those before `len`).
template <typename T, bool kVector>
__device__ __forceinline__ void StoreQuad(T* row, int64_t t, int64_t len, const float (&v)[4]) {
  if (kVector) {
    if (t < len) *reinterpret_cast<typename Quad<T>::Raw*>(row + t) = Quad<T>::Pack(v);
  } else {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (t + j < len) StoreAs(row + t + j, v[j]);
    }
  }
}

// Stores a lane's K steps (K/4 quads) starting at `t` of a row.
template <typename T, bool kVector, int K>
__device__ __forceinline__ void StoreSteps(T* row, int64_t t, int64_t len, const float (&v)[K]) {
#pragma unroll
  for (int q = 0; q < K / 4; ++q) StoreQuad<T, kVector>(row, t + 4 * q, len, *reinterpret_cast<const float(*)[4]>(v + 4 * q));
}

// K steps of a staged shared-memory row.
template <typename T, int K>
__device__ __forceinline__ void ReadSteps(const T* row, float (&v)[K]) {
#pragma unroll
  for (int q = 0; q < K / 4; ++q) {
    Quad<T>::Unpack(reinterpret_cast<const typename Quad<T>::Raw*>(row)[q], *reinterpret_cast<float(*)[4]>(v + 4 * q));
  }
}

// Copies 4 elements global -> shared without registers, zero-filling when !valid (then `src` is not read).
template <typename T>
__device__ __forceinline__ void CopyAsync(T* dst, const T* src, bool valid) {
  CopyToShared<4 * sizeof(T)>(dst, src, valid);
}

// kVector: L and every row start are multiples of 4 elements and aligned, so quads are single accesses.
// K: time steps per lane in a tile (4 or 8); kGroup: states held in registers at once; kMinBlocks: blocks per
// SM that registers are capped for; kBuffers: B and C tile buffers (2: the next tile loads during this one).
template <typename T, bool kVector, int K, int kGroup, int kMinBlocks, int kBuffers>
__global__ void __launch_bounds__(kWarps * kLanes, kMinBlocks) SelectiveScanKernel(const ScanArgs a) {
  constexpr int kTile = kLanes * K;
  LS_SHARED(float4, smem4);
  const int np = a.states_padded;
  const int warp = threadIdx.x / kLanes;
  const int lane = threadIdx.x % kLanes;
  // Layout: B and C tiles [kBuffers][np][kTile] and per warp its inputs [u, delta, z][kTile], in storage type;
  // then per warp A·log2e and the carry ([np]).
  T* Bs = reinterpret_cast<T*>(smem4);
  T* Cs = Bs + kBuffers * np * kTile;
  T* inputs = Cs + kBuffers * np * kTile + warp * 3 * kTile;
  float* a2 = reinterpret_cast<float*>(Cs + kBuffers * np * kTile + a.warps * 3 * kTile) + warp * 2 * np;
  float* carry = a2 + np;

  const int64_t per_group = a.dim / a.groups;
  const int64_t block = blockIdx.x;
  const int64_t b = block / (a.groups * a.blocks_per_group);
  const int64_t g = block / a.blocks_per_group % a.groups;
  const int64_t in_group = (block % a.blocks_per_group) * a.warps + warp;
  const bool active = in_group < per_group;  // idle warps still share the block's barriers
  const int64_t d = g * per_group + (active ? in_group : 0);
  const int64_t N = a.dstate, L = a.seqlen;
  const int64_t len = active ? L : 0;  // an idle warp reads and writes nothing

  const T* u = static_cast<const T*>(a.u) + b * a.u_strides.batch + d * a.u_strides.row;
  const T* delta = static_cast<const T*>(a.delta) + b * a.delta_strides.batch + d * a.delta_strides.row;
  const T* z = a.z ? static_cast<const T*>(a.z) + b * a.z_strides.batch + d * a.z_strides.row : nullptr;
  T* y = static_cast<T*>(a.y) + b * a.y_strides.batch + d * a.y_strides.row;
  const T* Bg = static_cast<const T*>(a.B) + b * a.B_strides.batch + g * N * a.B_strides.row;
  const T* Cg = static_cast<const T*>(a.C) + b * a.C_strides.batch + g * N * a.C_strides.row;
  const float bias = a.delta_bias ? a.delta_bias[d] : 0.f;
  const float skip = a.D ? a.D[d] : 0.f;

  for (int n = lane; n < np; n += kLanes) {
    a2[n] = n < N ? a.A[d * N + n] * kLog2e : 0.f;
    carry[n] = n < N && a.initial_state ? a.initial_state[(b * a.dim + d) * N + n] : 0.f;
  }

  // The block's B and C tile at t0 into buffer `buf`: np rows of kTile/4 quads each.
  auto stage = [&](int buf, int64_t t0) {
    T* bdst = Bs + buf * np * kTile;
    T* cdst = Cs + buf * np * kTile;
    for (int i = threadIdx.x; i < np * (kTile / 4); i += blockDim.x) {
      const int n = i / (kTile / 4), q = 4 * (i % (kTile / 4));
      const int64_t t = t0 + q;
      if (kVector) {
        const bool valid = n < N && t < L;
        CopyAsync(bdst + n * kTile + q, valid ? Bg + n * a.B_strides.row + t : Bg, valid);
        CopyAsync(cdst + n * kTile + q, valid ? Cg + n * a.C_strides.row + t : Cg, valid);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const bool valid = n < N && t + j < L;
          bdst[n * kTile + q + j] = valid ? Bg[n * a.B_strides.row + t + j] : T(0.f);
          cdst[n * kTile + q + j] = valid ? Cg[n * a.C_strides.row + t + j] : T(0.f);
        }
      }
    }
  };

  // u, delta and z of a warp's channel go through shared memory too, a tile ahead by cp.async where rows allow
  // 16-byte copies: no registers hold the next tile's inputs while this one computes. One buffer suffices: each
  // lane copies exactly the steps it reads, and it reads them into registers before it issues the next tile's
  // copies.
  auto stage_inputs = [&](int64_t t0) {
    T* dst = inputs + K * lane;
    const int64_t t = t0 + K * lane;
    const T* rows[3] = {u, delta, z};
#pragma unroll
    for (int r = 0; r < 3; ++r) {
      if (r == 2 && !z) break;
      if (kVector) {
#pragma unroll
        for (int q = 0; q < K; q += 4) {
          const bool valid = t + q < len;
          CopyAsync(dst + r * kTile + q, valid ? rows[r] + t + q : rows[r], valid);
        }
      } else {
#pragma unroll
        for (int j = 0; j < K; ++j) dst[r * kTile + j] = t + j < len ? rows[r][t + j] : T(0.f);
      }
    }
  };

  // A tile's staging as one cp.async group: the block's B and C into buffer `buffer`, this warp's inputs.
  auto stage_tile = [&](int buffer, int64_t t) {
    stage(buffer, t);
    stage_inputs(t);
    CommitCopies();
  };
  stage_tile(0, 0);

  const int64_t tiles = (L + kTile - 1) / kTile;
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t t0 = tile * kTile;
    const int buf = kBuffers == 2 ? static_cast<int>(tile & 1) : 0;
    WaitCopies<0>();
    __syncthreads();
    float uj[K], dt[K], zj[K], yj[K];
    ReadSteps<T, K>(inputs + K * lane, uj);
    ReadSteps<T, K>(inputs + kTile + K * lane, dt);
    if (z) ReadSteps<T, K>(inputs + 2 * kTile + K * lane, zj);
    if (kBuffers == 2 && tile + 1 < tiles) stage_tile(buf ^ 1, t0 + kTile);

    float dtu[K];
#pragma unroll
    for (int j = 0; j < K; ++j) {
      const float x = dt[j] + bias;
      // Steps past the end keep the state: a zero step size decays by 1 and adds nothing.
      dt[j] = t0 + K * lane + j < L ? (a.delta_softplus ? Softplus(x) : x) : 0.f;
      dtu[j] = dt[j] * uj[j];
      yj[j] = skip * uj[j];  // the D term first, so u is dead from here on
    }
    const T* Bt = Bs + buf * np * kTile + K * lane;
    const T* Ct = Cs + buf * np * kTile + K * lane;
    for (int n0 = 0; n0 < np; n0 += kGroup) {
      float h[kGroup], P[kGroup], W[K][kGroup];
#pragma unroll
      for (int i = 0; i < kGroup; ++i) {
        const float an = a2[n0 + i];
        float bn[K], cn[K];
        ReadSteps<T, K>(Bt + (n0 + i) * kTile, bn);
        ReadSteps<T, K>(Ct + (n0 + i) * kTile, cn);
        float hi = 0.f, decay = 1.f;
#pragma unroll
        for (int j = 0; j < K; ++j) {
          const float dA = Exp2(dt[j] * an);
          hi = dA * hi + dtu[j] * bn[j];
          yj[j] += cn[j] * hi;
          decay *= dA;
          W[j][i] = cn[j] * decay;
        }
        h[i] = hi;
        P[i] = decay;
      }
#pragma unroll
      for (int off = 1; off < kLanes; off *= 2) {
#pragma unroll
        for (int i = 0; i < kGroup; ++i) {
          const float hp = __shfl_up_sync(0xffffffffu, h[i], off);
          const float Pp = __shfl_up_sync(0xffffffffu, P[i], off);
          if (lane >= off) {
            h[i] = P[i] * hp + h[i];
            P[i] *= Pp;
          }
        }
      }
#pragma unroll
      for (int i = 0; i < kGroup; ++i) {
        const float c = carry[n0 + i];
        const float h_before = __shfl_up_sync(0xffffffffu, h[i], 1);
        const float P_before = __shfl_up_sync(0xffffffffu, P[i], 1);
        const float h0 = lane == 0 ? c : P_before * c + h_before;
#pragma unroll
        for (int j = 0; j < K; ++j) yj[j] += W[j][i] * h0;
        __syncwarp();
        if (lane == kLanes - 1) carry[n0 + i] = P[i] * c + h[i];  // the last lane's inclusive pair spans the tile
      }
      __syncwarp();
    }

#pragma unroll
    for (int j = 0; j < K; ++j) {
      if (z) yj[j] *= Silu(zj[j]);
    }
    StoreSteps<T, kVector, K>(y, t0 + K * lane, len, yj);
    if (kBuffers == 1 && tile + 1 < tiles) {
      __syncthreads();  // every warp is done with the buffer
      stage_tile(0, t0 + kTile);
    }
  }

  if (active && a.final_state) {
    for (int n = lane; n < N; n += kLanes) a.final_state[(b * a.dim + d) * N + n] = carry[n];
  }
}

template <typename T, int K, int kBuffers>
__host__ __device__ constexpr size_t SharedBytes(int states_padded, int warps) {
  return sizeof(T) * (2 * kBuffers * states_padded + 3 * warps) * (kLanes * K) + sizeof(float) * warps * 2 * states_padded;
}

#ifndef LONGSEQ_CUDA_EMULATE
// Channels per block. More share each B/C tile, but when blocks are few the GPU fills unevenly: one SM gets two
// blocks of 8 warps while another gets one. Counts the warps the busiest SM runs over the whole launch (full
// rounds of resident blocks, 16 warps at most at kMinBlocks 2, and what shared memory allows) and takes the
// fewest, then the widest block. Measured on an H200 (B1 D1536 L262144: 8 warps 9.9 ms, 4 warps 8.7 ms, and with
// the inputs staged in shared memory 6 warps 6.1 ms in fp32, where 4-warp blocks fit only two to an SM; B1 D2048
// L4096: 8 warps 0.17 ms, 4 warps 0.27 ms, where 4 needed two rounds). Only blocks whose staging the device allows
// are counted; false where none is (more states than fit this GPU's shared memory).
template <typename T, int K, int kMinBlocks, int kBuffers>
bool ChooseWarps(ScanArgs* a, int64_t per_group) {
  const int64_t shared_per_sm = SharedMemoryPerMultiprocessor() - 1024, sms = Multiprocessors();
  int64_t best_cost = 0;
  for (int warps : {8, 6, 4, 2, 1}) {
    if ((warps > per_group && warps > 1) || SharedBytes<T, K, kBuffers>(a->states_padded, warps) > static_cast<size_t>(SharedMemoryOptIn())) continue;
    const int64_t blocks_per_group = (per_group + warps - 1) / warps;
    const int64_t blocks = a->batch * a->groups * blocks_per_group;
    const int64_t by_smem = shared_per_sm / (static_cast<int64_t>(SharedBytes<T, K, kBuffers>(a->states_padded, warps)) + 1024);
    const int64_t resident = std::max<int64_t>(1, std::min<int64_t>(kMinBlocks * kWarps / warps, by_smem));
    const int64_t per_sm = (blocks + sms - 1) / sms;
    const int64_t rounds = (per_sm + resident - 1) / resident;
    const int64_t cost = (rounds > 1 ? rounds * resident : per_sm) * warps;
    if (best_cost == 0 || cost < best_cost) {
      best_cost = cost;
      a->warps = warps;
      a->blocks_per_group = blocks_per_group;
    }
  }
  return best_cost > 0;
}

template <typename T, bool kVector, int K, int kGroup, int kMinBlocks, int kBuffers>
ls_status Launch(ScanArgs args, int64_t per_group, cudaStream_t stream) {
  if (!ChooseWarps<T, K, kMinBlocks, kBuffers>(&args, per_group)) {
    return ls::Fail(LS_UNAVAILABLE, "selectiveScan on this GPU: dstate %lld in %s needs %zu bytes of shared memory per block, "
                    "the device allows %d", static_cast<long long>(args.dstate), sizeof(T) == 2 ? "bfloat16" : "float32",
                    SharedBytes<T, K, kBuffers>(args.states_padded, 1), SharedMemoryOptIn());
  }
  const size_t smem = SharedBytes<T, K, kBuffers>(args.states_padded, args.warps);
  LS_CUDA_TRY(Once([] {
    // 64 states in float need 128 KiB for the double-buffered B and C tiles and 12 more for the warps' inputs,
    // past the default 48 KiB per block: a block may take what the device allows.
    return cudaFuncSetAttribute(SelectiveScanKernel<T, kVector, K, kGroup, kMinBlocks, kBuffers>,
                                cudaFuncAttributeMaxDynamicSharedMemorySize, SharedMemoryOptIn());
  }), "setting the kernel's shared memory");
  const int64_t blocks = args.batch * args.groups * args.blocks_per_group;
  if (blocks > 0x7fffffff) return ls::Fail(LS_INVALID_ARGUMENT, "batch * dim is too large for one launch");
  SelectiveScanKernel<T, kVector, K, kGroup, kMinBlocks, kBuffers><<<static_cast<unsigned>(blocks), args.warps * kLanes, smem, stream>>>(args);
  LS_CUDA_TRY(cudaGetLastError(), "launching the kernel");
  return LS_OK;
}

bool Aligned(const void* p, int64_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }
bool Quads(const ls_row_strides& s) { return s.batch % 4 == 0 && s.row % 4 == 0; }

ls_status SelectiveScan(const ls_selective_scan_params& p, void* stream) {
  if (ls_status s = ValidateSelectiveScan(p)) return s;
  if (p.dstate > kMaxStates) {
    return ls::Fail(LS_INVALID_ARGUMENT, "selectiveScan on CUDA supports dstate up to %d, got %lld", kMaxStates,
                    static_cast<long long>(p.dstate));
  }
  ScanArgs a = {};
  a.batch = p.batch;
  a.dim = p.dim;
  a.dstate = p.dstate;
  a.seqlen = p.seqlen;
  a.groups = p.groups;
  a.u = p.u;
  a.delta = p.delta;
  a.z = p.z;
  a.B = p.B;
  a.C = p.C;
  a.u_strides = p.u_strides;
  a.delta_strides = p.delta_strides;
  a.z_strides = p.z_strides;
  a.B_strides = p.B_strides;
  a.C_strides = p.C_strides;
  a.y_strides = p.y_strides;
  a.A = p.A;
  a.D = p.D;
  a.delta_bias = p.delta_bias;
  a.initial_state = p.initial_state;
  a.y = p.y;
  a.final_state = p.final_state;
  a.delta_softplus = p.delta_softplus != 0;
  a.states_padded = static_cast<int>((p.dstate + kStatePad - 1) / kStatePad * kStatePad);
  const int64_t per_group = p.dim / p.groups;

  const bool bf16 = p.storage == LS_BFLOAT16;
  const int64_t quad_bytes = bf16 ? 8 : 16;
  const bool vector = p.seqlen % 4 == 0 && Quads(p.u_strides) && Quads(p.delta_strides) && Quads(p.y_strides) &&
                      Quads(p.B_strides) && Quads(p.C_strides) && (!p.z || Quads(p.z_strides)) &&
                      Aligned(p.u, quad_bytes) && Aligned(p.delta, quad_bytes) && Aligned(p.y, quad_bytes) &&
                      Aligned(p.B, quad_bytes) && Aligned(p.C, quad_bytes) && (!p.z || Aligned(p.z, quad_bytes));
  const cudaStream_t s = Stream(stream);
  // Tile shapes measured on an H200 at B1 D2048 N16 L4096 (fp32 / bf16, ms): 4 steps a lane with 8 states in
  // registers 0.171 / 0.175; 8 steps with 4 states 0.170 / 0.148 (half the scan's shuffles per step); 8 steps
  // with 8 states (one block per SM) 0.210 / 0.183. 8-step tiles of more than 32 states overflow shared memory (and
  // of more than 16 in float32 where a block may have 99 KB: sm_86, sm_89).
  const size_t limit = static_cast<size_t>(SharedMemoryOptIn());
  const size_t long_tiles = bf16 ? SharedBytes<__nv_bfloat16, 8, 2>(a.states_padded, 1) : SharedBytes<float, 8, 2>(a.states_padded, 1);
  const bool short_tiles = a.states_padded > 32 || long_tiles > limit;
  if (short_tiles) {
    if (bf16) return vector ? Launch<__nv_bfloat16, true, 4, 8, 2, 2>(a, per_group, s) : Launch<__nv_bfloat16, false, 4, 8, 2, 2>(a, per_group, s);
    // One buffer where two of 4-step tiles do not fit (float32 past 48 states on 99 KB GPUs).
    if (SharedBytes<float, 4, 2>(a.states_padded, 1) > limit) {
      return vector ? Launch<float, true, 4, 8, 2, 1>(a, per_group, s) : Launch<float, false, 4, 8, 2, 1>(a, per_group, s);
    }
    return vector ? Launch<float, true, 4, 8, 2, 2>(a, per_group, s) : Launch<float, false, 4, 8, 2, 2>(a, per_group, s);
  }
  if (bf16) return vector ? Launch<__nv_bfloat16, true, 8, 4, 2, 2>(a, per_group, s) : Launch<__nv_bfloat16, false, 8, 4, 2, 2>(a, per_group, s);
  return vector ? Launch<float, true, 8, 4, 2, 2>(a, per_group, s) : Launch<float, false, 8, 4, 2, 2>(a, per_group, s);
}

#endif  // LONGSEQ_CUDA_EMULATE
}  // namespace
}  // namespace cuda
}  // namespace ls

#ifndef LONGSEQ_CUDA_EMULATE
extern "C" ls_status ls_selective_scan_cuda(const ls_selective_scan_params* p, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::cuda::SelectiveScan(*p, stream);
}
#endif  // LONGSEQ_CUDA_EMULATE
