// The short causal conv1d and its decode step on the GPU (ls_causal_conv1d_cuda, ls_causal_conv1d_step_cuda),
// as the CPU entries.
//
// Both are a single pass over memory (W <= 64 multiply-adds per 8 bytes moved), so the layout serves the
// memory system: a block takes a tile of kTile outputs of one [batch, dim] row and reads the tile's inputs, and
// the W-1 before it (from the row itself or the initial state), into shared memory. The common case
// (seqlen % 4 == 0, aligned, W <= 9: QuadConvKernel) reads with every thread's 16-byte loads in flight at once
// and gives each thread quads of 4 outputs, read as 16-byte words and stored as one; any other shape takes
// ConvKernel, one element at a time. Measured on an H200, B8 D4096 L4096 W4 with bias and SiLU (longseq-bench
// --backend cuda): one output per thread, 42% of the copy bandwidth (65% with four 16-byte loads per thread in
// flight); quads in and out, 94%. The final state, the last W-1 values of [initial state | x], comes from a
// second small kernel once every tile has read the initial state (they may alias).
#ifdef LONGSEQ_CUDA_EMULATE  // the kernels alone, on the CPU (cuda/emulate.h)
#include "cuda/device.cuh"
#else
#include "cpu/causal_conv1d.h"
#include "cuda/common.cuh"
#endif

namespace ls {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kPerThread = 16;  // QuadConvKernel: four 16-byte loads in flight per thread
constexpr int kTile = kThreads * kPerThread;
constexpr int kMaxWidth = 64;  // the C API's limit (cpu/causal_conv1d.h)

struct ConvArgs {
  int64_t rows, dim, seqlen, width;
  const float *x, *weight, *bias, *initial_state;
  float *y, *final_state;
  bool silu;
};

// Any shape: one tile of one row per block (blockIdx.x = row * tiles + tile), one output at a time.
__global__ void __launch_bounds__(kThreads) ConvKernel(const ConvArgs a, int64_t tiles) {
  __shared__ float in[kMaxWidth - 1 + kTile];
  __shared__ float w[kMaxWidth];
  const int64_t row = blockIdx.x / tiles;
  const int64_t t0 = (blockIdx.x % tiles) * kTile;
  const int64_t L = a.seqlen;
  const int halo = static_cast<int>(a.width) - 1;
  const int count = static_cast<int>(L - t0 < kTile ? L - t0 : kTile);
  const float* x = a.x + row * L;
  const int64_t channel = row % a.dim;
  if (threadIdx.x < a.width) w[threadIdx.x] = a.weight[channel * a.width + threadIdx.x];
  // in[i] holds [initial state | x] at time t0 - halo + i.
  for (int i = threadIdx.x; i < halo; i += kThreads) {
    const int64_t t = t0 - halo + i;
    in[i] = t >= 0 ? x[t] : a.initial_state ? a.initial_state[row * halo + halo + t] : 0.f;
  }
  for (int i = threadIdx.x; i < count; i += kThreads) in[halo + i] = x[t0 + i];
  __syncthreads();
  const float bias = a.bias ? a.bias[channel] : 0.f;
  float* y = a.y + row * L + t0;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const int i = threadIdx.x + k * kThreads;
    if (i < count) {
      float acc = bias;
      for (int j = 0; j <= halo; ++j) acc = fmaf(w[j], in[i + j], acc);
      y[i] = a.silu ? Silu(acc) : acc;
    }
  }
}

// The common case: seqlen % 4 == 0, x and y 16-byte aligned, W <= 4·kHaloQuads + 1. Each thread takes quads of
// 4 consecutive outputs: the quad's inputs and the kHaloQuads quads before it come out of shared memory as
// 16-byte reads (the tile sits at a 16-byte aligned offset, its predecessors in the quads before), and y goes
// out as one 16-byte store. Per 4 outputs: kHaloQuads + 1 shared loads, 4·W FMAs, one store.
template <int kHaloQuads>
__global__ void __launch_bounds__(kThreads) QuadConvKernel(const ConvArgs a, int64_t tiles) {
  constexpr int kPad = 4 * kHaloQuads;
  __shared__ __align__(16) float in[kPad + kTile];
  __shared__ float w[4 * kHaloQuads + 1];
  const int64_t row = blockIdx.x / tiles;
  const int64_t t0 = (blockIdx.x % tiles) * kTile;
  const int64_t L = a.seqlen;
  const int W = static_cast<int>(a.width), halo = W - 1;
  const int count = static_cast<int>(L - t0 < kTile ? L - t0 : kTile);  // a multiple of 4
  const float* x = a.x + row * L;
  const int64_t channel = row % a.dim;
  // Taps right-aligned in w[0, 4·kHaloQuads + 1): unused leading taps are zero, so every quad runs the same code.
  if (threadIdx.x < 4 * kHaloQuads + 1) {
    const int j = static_cast<int>(threadIdx.x) - (4 * kHaloQuads + 1 - W);
    w[threadIdx.x] = j >= 0 ? a.weight[channel * W + j] : 0.f;
  }
  if (threadIdx.x < kPad) {  // in[i] holds [initial state | x] at time t0 - kPad + i
    const int64_t t = t0 - kPad + threadIdx.x;
    const int64_t s = halo + t;  // index in the initial state
    in[threadIdx.x] = t >= 0 ? x[t] : (s >= 0 && a.initial_state) ? a.initial_state[row * halo + s] : 0.f;
  }
  const float4* x4 = reinterpret_cast<const float4*>(x + t0);
  float4 v[kPerThread / 4];
#pragma unroll
  for (int k = 0; k < kPerThread / 4; ++k) {  // every load issued before any is used
    const int q = threadIdx.x + k * kThreads;
    if (4 * q < count) v[k] = x4[q];
  }
#pragma unroll
  for (int k = 0; k < kPerThread / 4; ++k) {
    const int q = threadIdx.x + k * kThreads;
    if (4 * q < count) reinterpret_cast<float4*>(in + kPad)[q] = v[k];
  }
  __syncthreads();
  const float bias = a.bias ? a.bias[channel] : 0.f;
  float4* y4 = reinterpret_cast<float4*>(a.y + row * L + t0);
#pragma unroll
  for (int k = 0; k < kPerThread / 4; ++k) {
    const int q = threadIdx.x + k * kThreads;
    if (4 * q >= count) break;
    float s[4 * kHaloQuads + 4];  // inputs at times 4q - kPad .. 4q + 3 of the tile
#pragma unroll
    for (int h = 0; h <= kHaloQuads; ++h) {
      const float4 f = reinterpret_cast<const float4*>(in)[q + h];
      s[4 * h] = f.x, s[4 * h + 1] = f.y, s[4 * h + 2] = f.z, s[4 * h + 3] = f.w;
    }
    float out[4];
#pragma unroll
    for (int o = 0; o < 4; ++o) {
      float acc = bias;
#pragma unroll
      for (int j = 0; j <= 4 * kHaloQuads; ++j) acc = fmaf(w[j], s[o + j], acc);
      out[o] = a.silu ? Silu(acc) : acc;
    }
    y4[q] = make_float4(out[0], out[1], out[2], out[3]);
  }
}

// final_state[row] = the last W-1 values of [initial state | x]; one thread per row, in ascending order, so a
// final state aliasing the initial one reads each value before it is overwritten.
__global__ void FinalStateKernel(const ConvArgs a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (row >= a.rows) return;
  const int64_t halo = a.width - 1, L = a.seqlen;
  for (int64_t i = 0; i < halo; ++i) {
    const int64_t at = L + i;  // index in [initial state | x]
    const float v = at >= halo ? a.x[row * L + at - halo] : a.initial_state ? a.initial_state[row * halo + at] : 0.f;
    a.final_state[row * halo + i] = v;
  }
}

struct StepArgs {
  int64_t rows, dim, width;
  float* state;
  const float *x, *weight, *bias;
  float* y;
  bool silu;
};

// One thread per row: y = act(bias + weight · [state | x]), then x shifted into the state.
__global__ void __launch_bounds__(kThreads) StepKernel(const StepArgs a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (row >= a.rows) return;
  const int64_t halo = a.width - 1;
  const float* w = a.weight + (row % a.dim) * a.width;
  float* s = a.state + row * halo;
  const float x = a.x[row];
  float acc = a.bias ? a.bias[row % a.dim] : 0.f;
  for (int64_t j = 0; j < halo; ++j) acc = fmaf(w[j], s[j], acc);
  acc = fmaf(w[halo], x, acc);
  a.y[row] = a.silu ? Silu(acc) : acc;
  for (int64_t j = 0; j + 1 < halo; ++j) s[j] = s[j + 1];
  s[halo - 1] = x;
}

#ifndef LONGSEQ_CUDA_EMULATE
int64_t Blocks(int64_t n) { return (n + kThreads - 1) / kThreads; }

#endif  // LONGSEQ_CUDA_EMULATE
}  // namespace
}  // namespace cuda
}  // namespace ls

#ifndef LONGSEQ_CUDA_EMULATE
extern "C" ls_status ls_causal_conv1d_cuda(const ls_causal_conv1d_params* p, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::ValidateCausalConv1d(*p)) return s;
  using namespace ls::cuda;
  const ConvArgs a = {p->batch * p->dim, p->dim, p->seqlen, p->width, p->x, p->weight, p->bias, p->initial_state,
                      p->y, p->final_state, p->activation == LS_ACTIVATION_SILU};
  const int64_t tiles = (a.seqlen + kTile - 1) / kTile;
  if (a.rows > (int64_t{1} << 31) / tiles) {
    return ls::Fail(LS_INVALID_ARGUMENT, "batch * dim * ceil(seqlen / %d) must be below 2^31 blocks", kTile);
  }
  const cudaStream_t s = Stream(stream);
  const unsigned blocks = static_cast<unsigned>(a.rows * tiles);
  const bool quads = a.seqlen % 4 == 0 && reinterpret_cast<uintptr_t>(a.x) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(a.y) % 16 == 0;
  if (quads && a.width <= 5) {
    QuadConvKernel<1><<<blocks, kThreads, 0, s>>>(a, tiles);
  } else if (quads && a.width <= 9) {
    QuadConvKernel<2><<<blocks, kThreads, 0, s>>>(a, tiles);
  } else {
    ConvKernel<<<blocks, kThreads, 0, s>>>(a, tiles);
  }
  LS_CUDA_TRY(cudaGetLastError(), "causal_conv1d launch");
  if (a.final_state) {
    FinalStateKernel<<<static_cast<unsigned>(Blocks(a.rows)), kThreads, 0, s>>>(a);
    LS_CUDA_TRY(cudaGetLastError(), "causal_conv1d final state launch");
  }
  return LS_OK;
}

extern "C" ls_status ls_causal_conv1d_step_cuda(const ls_causal_conv1d_step_params* p, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::ValidateCausalConv1dStep(*p)) return s;
  using namespace ls::cuda;
  const StepArgs a = {p->batch * p->dim, p->dim, p->width, p->state, p->x, p->weight, p->bias, p->y,
                      p->activation == LS_ACTIVATION_SILU};
  if (Blocks(a.rows) >= (int64_t{1} << 31)) return ls::Fail(LS_INVALID_ARGUMENT, "batch * dim is too large");
  StepKernel<<<static_cast<unsigned>(Blocks(a.rows)), kThreads, 0, Stream(stream)>>>(a);
  LS_CUDA_TRY(cudaGetLastError(), "causal_conv1d_step launch");
  return LS_OK;
}
#endif  // LONGSEQ_CUDA_EMULATE
