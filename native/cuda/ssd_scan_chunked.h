// Mamba-2's SSD scan in the chunked form on the GPU (ssd_scan_chunked.cu), which ls_ssd_scan_cuda picks for long
// sequences; arguments already checked by ValidateSsdScan. Included by CUDA sources only.
#ifndef LONGSEQ_CUDA_SSD_SCAN_CHUNKED_H_
#define LONGSEQ_CUDA_SSD_SCAN_CHUNKED_H_

#ifdef LONGSEQ_CUDA_EMULATE  // the kernels alone, on the CPU (cuda/emulate.h)
#include "cuda/device.cuh"
#else
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#endif
#include "longseq/longseq.h"

namespace ls {
namespace cuda {

// The step size of a token: dt + dt_bias, softplus'ed if asked, clamped to [lo, hi] (NaN stays NaN, as on the CPU).
__device__ __forceinline__ float SsdStepSize(float dt, float bias, bool softplus, float lo, float hi) {
  dt += bias;
  if (softplus) dt = Softplus(dt);
  if (dt < lo) dt = lo;
  if (dt > hi) dt = hi;
  return dt;
}

#ifndef LONGSEQ_CUDA_EMULATE
// Whether the chunked kernels take this shape (dstate <= 128; the recurrence takes up to 256) on this device (their
// shared memory: they fit an A100's 163 KB a block, not sm_86 / sm_89's 99 KB).
bool SsdChunkedFits(const ls_ssd_scan_params& p);
// The most shared memory a block of the bf16 form takes.
size_t SsdChunkedBf16SharedMost();

// float32 storage: products in 3xTF32 (ssd_scan_chunked.cu); bf16 storage: on bf16 tensor cores
// (ssd_scan_chunked_bf16.cu).
ls_status LaunchSsdChunked(const ls_ssd_scan_params& p, cudaStream_t stream);
ls_status LaunchSsdChunkedBf16(const ls_ssd_scan_params& p, cudaStream_t stream);

#endif  // LONGSEQ_CUDA_EMULATE

// What both chunked forms share.
constexpr int kSsdChunk = 128;  // tokens per chunk

#ifndef LONGSEQ_CUDA_EMULATE
// The state carried from one workspace segment to the next: the final-state buffer, or `temporary` when none was
// asked for and there is more than one segment (else null).
inline ls_status CarriedState(const ls_ssd_scan_params& p, bool several_segments, DeviceScratch& temporary, float*& state) {
  state = p.final_state;
  if (!state && several_segments) {
    const int64_t floats = p.batch * p.heads * p.head_dim * p.dstate;
    if (ls_status s = temporary.Allocate(sizeof(float) * floats)) return s;
    state = temporary.get<float>();
  }
  return LS_OK;
}

#endif  // LONGSEQ_CUDA_EMULATE

// T: the storage of x, z, B, C and y; the rest is float.
template <typename T>
struct SsdChunkArgs {
  int64_t batch, seqlen, heads, groups;
  int P, N, Np;  // head_dim, dstate, and dstate padded to 16
  const T *x, *B, *C, *z;
  const float *dt, *A, *D, *dt_bias;
  T* y;
  bool D_per_dim, dt_softplus;
  float dt_min, dt_max;
};

template <typename T>
SsdChunkArgs<T> MakeSsdChunkArgs(const ls_ssd_scan_params& p) {
  return {p.batch, p.seqlen, p.heads, p.groups, static_cast<int>(p.head_dim), static_cast<int>(p.dstate),
          static_cast<int>((p.dstate + 15) / 16 * 16), reinterpret_cast<const T*>(p.x), reinterpret_cast<const T*>(p.B),
          reinterpret_cast<const T*>(p.C), reinterpret_cast<const T*>(p.z), p.dt, p.A, p.D, p.dt_bias, reinterpret_cast<T*>(p.y),
          p.D_per_dim != 0, p.dt_softplus != 0, p.dt_min, p.dt_max};
}

// Per (batch, head, chunk), blockIdx.x = bh * chunks + chunk, a thread per token: the step sizes dt (bias,
// softplus, clamp; 0 past the end) and gamma, the cumulative log2-decays within the chunk, summed in float64:
// within a chunk of strong decay gamma reaches the thousands, and float32 differences of it would lose 1e-4 near
// the diagonal. Both [bh][chunk][kSsdChunk], of the segment starting at first_chunk. Where `weights` is given,
// also [bh][chunk][kSsdChunk + 4]: each token's weight in the state the chunk leaves, dt 2^(gamma_last - gamma),
// then the chunk's decay 2^gamma_last.
constexpr int kSsdWeights = kSsdChunk + 4;
template <typename T>
__global__ void __launch_bounds__(kSsdChunk) SsdDecayKernel(const SsdChunkArgs<T> a, double* gammas, float* dts, float* weights,
                                                            int64_t chunks, int64_t first_chunk) {
  __shared__ double totals[kSsdChunk / 32];
  const int64_t bh = blockIdx.x / chunks, chunk = blockIdx.x % chunks;
  const int64_t b = bh / a.heads, h = bh % a.heads, t = (first_chunk + chunk) * kSsdChunk + threadIdx.x;
  const float bias = a.dt_bias ? a.dt_bias[h] : 0.f;
  const float dt = t < a.seqlen ? SsdStepSize(a.dt[(b * a.seqlen + t) * a.heads + h], bias, a.dt_softplus, a.dt_min, a.dt_max) : 0.f;
  double sum = dt * (a.A[h] * kLog2e);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int offset = 1; offset < 32; offset <<= 1) {
    const double up = __shfl_up_sync(0xffffffffu, sum, offset);
    if (lane >= offset) sum += up;
  }
  if (lane == 31) totals[warp] = sum;
  __syncthreads();
  double total = 0;
  for (int i = 0; i < kSsdChunk / 32; ++i) {
    if (i < warp) sum += totals[i];
    total += totals[i];
  }
  dts[blockIdx.x * kSsdChunk + threadIdx.x] = dt;
  gammas[blockIdx.x * kSsdChunk + threadIdx.x] = sum;
  if (weights) {
    float* to = weights + blockIdx.x * kSsdWeights;
    to[threadIdx.x] = dt * Exp2(static_cast<float>(total - sum));
    if (threadIdx.x == 0) to[kSsdChunk] = Exp2(static_cast<float>(total));
  }
}

}  // namespace cuda
}  // namespace ls

#endif  // LONGSEQ_CUDA_SSD_SCAN_CHUNKED_H_
