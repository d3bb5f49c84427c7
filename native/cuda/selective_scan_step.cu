// One decode step of the selective scan on the GPU (ls_selective_scan_step_cuda), as ls_selective_scan_step_cpu.
//
// A step is a pass over the state [batch, dim, dstate] (read once, written once) and nothing else, so it is
// laid out for the memory system. The common case (dstate a multiple of 4, dstate/4 a power of two up to 32,
// aligned): one thread per 4 consecutive states, 16-byte accesses, consecutive threads on consecutive states,
// and y = Σ_n C[n]·h[n] summed across a channel's threads with warp shuffles. Otherwise one thread per state,
// summed through shared memory; dstate above a block, one thread per channel.
#ifdef LONGSEQ_CUDA_EMULATE  // the kernels alone, on the CPU (cuda/emulate.h)
#include "cuda/device.cuh"
#else
#include "cpu/selective_scan.h"
#include "cuda/common.cuh"
#endif

namespace ls {
namespace cuda {
namespace {

constexpr int kThreads = 256;

struct StepArgs {
  int64_t batch, dim, dstate, groups;
  float* state;
  const void *x, *delta, *z, *B, *C;
  const float *A, *D, *delta_bias;
  void* y;
  bool delta_softplus;
};

// One thread per 4 states; 2^quads_log2 threads per channel. Index math in 32 bits (the launcher checks).
template <typename T>
__global__ void __launch_bounds__(kThreads) QuadStepKernel(const StepArgs a, int quads_log2) {
  const int N = static_cast<int>(a.dstate), dim = static_cast<int>(a.dim), groups = static_cast<int>(a.groups);
  const unsigned i = blockIdx.x * kThreads + threadIdx.x;
  const bool active = i < (static_cast<unsigned>(a.batch * a.dim) << quads_log2);
  const int bd = active ? static_cast<int>(i >> quads_log2) : 0;
  const int q = static_cast<int>(i & ((1u << quads_log2) - 1));
  const int b = bd / dim, d = bd - b * dim;
  const int g = d / (dim / groups);
  const float u = ToFloat(static_cast<const T*>(a.x)[bd]);
  float dt = ToFloat(static_cast<const T*>(a.delta)[bd]) + (a.delta_bias ? a.delta_bias[d] : 0.f);
  if (a.delta_softplus) dt = Softplus(dt);
  const int bgn = (b * groups + g) * N + 4 * q;
  float4* h4 = reinterpret_cast<float4*>(a.state + static_cast<int64_t>(bd) * N + 4 * q);
  const float4 A4 = *reinterpret_cast<const float4*>(a.A + d * N + 4 * q);
  float h[4], Bn[4], Cn[4];
  Quad<T>::Unpack(*reinterpret_cast<const typename Quad<T>::Raw*>(static_cast<const T*>(a.B) + bgn), Bn);
  Quad<T>::Unpack(*reinterpret_cast<const typename Quad<T>::Raw*>(static_cast<const T*>(a.C) + bgn), Cn);
  Quad<float>::Unpack(active ? *h4 : make_float4(0.f, 0.f, 0.f, 0.f), h);
  const float An[4] = {A4.x, A4.y, A4.z, A4.w};
  float partial = 0.f;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    h[j] = Exp2(dt * An[j] * kLog2e) * h[j] + dt * Bn[j] * u;
    partial += Cn[j] * h[j];
  }
  if (active) *h4 = Quad<float>::Pack(h);
  // A channel's threads are 2^quads_log2 aligned lanes of one warp: xor shuffles below that stay inside it.
  for (int off = (1 << quads_log2) / 2; off >= 1; off /= 2) partial += __shfl_xor_sync(0xffffffffu, partial, off);
  if (active && q == 0) {
    if (a.D) partial += a.D[d] * u;
    if (a.z) partial *= Silu(ToFloat(static_cast<const T*>(a.z)[bd]));
    StoreAs(static_cast<T*>(a.y) + bd, partial);
  }
}

// One block per (batch, run of whole channels); `channels` channels of dstate states each fill the block. Index
// math in 32 bits (the launcher sends states past 2^31 to the wide kernel): 64-bit division per thread would
// cost more than the step's memory traffic.
template <typename T>
__global__ void __launch_bounds__(kThreads) StepKernel(const StepArgs a, int channels) {
  __shared__ float partial[kThreads];
  const int N = static_cast<int>(a.dstate), dim = static_cast<int>(a.dim);
  const int runs = (dim + channels - 1) / channels;
  const int b = blockIdx.x / runs;
  const int d = (blockIdx.x % runs) * channels + threadIdx.x / N;
  const int n = threadIdx.x % N;
  const bool active = static_cast<int>(threadIdx.x) < channels * N && d < dim;
  const int g = d / (dim / static_cast<int>(a.groups));
  const int bd = b * dim + d;
  float contribution = 0.f, u = 0.f;
  if (active) {
    u = ToFloat(static_cast<const T*>(a.x)[bd]);
    float dt = ToFloat(static_cast<const T*>(a.delta)[bd]) + (a.delta_bias ? a.delta_bias[d] : 0.f);
    if (a.delta_softplus) dt = Softplus(dt);
    const int bgn = (b * static_cast<int>(a.groups) + g) * N + n;
    float* h = a.state + bd * N + n;
    const float next = Exp2(dt * a.A[d * N + n] * kLog2e) * *h +
                       dt * ToFloat(static_cast<const T*>(a.B)[bgn]) * u;
    *h = next;
    contribution = ToFloat(static_cast<const T*>(a.C)[bgn]) * next;
  }
  partial[threadIdx.x] = contribution;
  __syncthreads();
  if (active && n == 0) {
    float sum = 0.f;
    for (int i = 0; i < N; ++i) sum += partial[threadIdx.x + i];
    if (a.D) sum += a.D[d] * u;
    if (a.z) sum *= Silu(ToFloat(static_cast<const T*>(a.z)[bd]));
    StoreAs(static_cast<T*>(a.y) + bd, sum);
  }
}

// dstate above one block, or more than 2^31 states: one thread per channel walks its states.
template <typename T>
__global__ void __launch_bounds__(kThreads) WideStepKernel(const StepArgs a) {
  const int64_t bd = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (bd >= a.batch * a.dim) return;
  const int64_t b = bd / a.dim, d = bd % a.dim, N = a.dstate;
  const int64_t g = d / (a.dim / a.groups);
  const float u = ToFloat(static_cast<const T*>(a.x)[bd]);
  float dt = ToFloat(static_cast<const T*>(a.delta)[bd]) + (a.delta_bias ? a.delta_bias[d] : 0.f);
  if (a.delta_softplus) dt = Softplus(dt);
  const T* B = static_cast<const T*>(a.B) + (b * a.groups + g) * N;
  const T* C = static_cast<const T*>(a.C) + (b * a.groups + g) * N;
  float sum = 0.f;
  for (int64_t n = 0; n < N; ++n) {
    float* h = a.state + bd * N + n;
    const float next = Exp2(dt * a.A[d * N + n] * kLog2e) * *h + dt * ToFloat(B[n]) * u;
    *h = next;
    sum += ToFloat(C[n]) * next;
  }
  if (a.D) sum += a.D[d] * u;
  if (a.z) sum *= Silu(ToFloat(static_cast<const T*>(a.z)[bd]));
  StoreAs(static_cast<T*>(a.y) + bd, sum);
}

#ifndef LONGSEQ_CUDA_EMULATE
bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename T>
ls_status Launch(const StepArgs& a, cudaStream_t stream) {
  const int64_t quads = a.dstate / 4;
  const bool pow2 = quads >= 1 && quads <= 32 && (quads & (quads - 1)) == 0;
  const int64_t threads = a.batch * a.dim * quads;
  if (a.dstate % 4 == 0 && pow2 && threads < (int64_t{1} << 31) && Aligned16(a.state) && Aligned16(a.A) &&
      reinterpret_cast<uintptr_t>(a.B) % (4 * sizeof(T)) == 0 && reinterpret_cast<uintptr_t>(a.C) % (4 * sizeof(T)) == 0) {
    int quads_log2 = 0;
    while ((int64_t{1} << quads_log2) < quads) ++quads_log2;
    QuadStepKernel<T><<<static_cast<unsigned>((threads + kThreads - 1) / kThreads), kThreads, 0, stream>>>(a, quads_log2);
  } else if (a.dstate <= kThreads && a.batch * a.dim * a.dstate < (int64_t{1} << 31)) {
    const int channels = static_cast<int>(kThreads / a.dstate);
    const int64_t blocks = a.batch * ((a.dim + channels - 1) / channels);
    if (blocks > 0x7fffffff) return ls::Fail(LS_INVALID_ARGUMENT, "batch * dim is too large");
    StepKernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(a, channels);
  } else {
    const int64_t blocks = (a.batch * a.dim + kThreads - 1) / kThreads;
    if (blocks > 0x7fffffff) return ls::Fail(LS_INVALID_ARGUMENT, "batch * dim is too large");
    WideStepKernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(a);
  }
  LS_CUDA_TRY(cudaGetLastError(), "launching the kernel");
  return LS_OK;
}

#endif  // LONGSEQ_CUDA_EMULATE
}  // namespace
}  // namespace cuda
}  // namespace ls

#ifndef LONGSEQ_CUDA_EMULATE
extern "C" ls_status ls_selective_scan_step_cuda(const ls_selective_scan_step_params* p, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::ValidateSelectiveScanStep(*p)) return s;
  ls::cuda::StepArgs a = {p->batch, p->dim,   p->dstate, p->groups, p->state,      p->x, p->delta,
                          p->z,     p->B,     p->C,      p->A,      p->D, p->delta_bias, p->y,
                          p->delta_softplus != 0};
  return p->storage == LS_BFLOAT16 ? ls::cuda::Launch<__nv_bfloat16>(a, ls::cuda::Stream(stream))
                                   : ls::cuda::Launch<float>(a, ls::cuda::Stream(stream));
}
#endif  // LONGSEQ_CUDA_EMULATE
