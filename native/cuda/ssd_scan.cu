// Mamba-2's SSD scan and its step on the GPU (ls_ssd_scan_cuda, ls_ssd_scan_step_cuda), as the recurrence:
// S_t = exp(dt_t A) S_{t-1} + dt_t x_t B_t^T, y_t = S_t C_t + D x_t, then the z gate.
//
// A block takes one (batch, head) and kRows rows p of its P x N state; each row is split over `lanes` threads
// (a power of two up to 32, consecutive lanes of a warp) that keep kPer states each in registers, so a token costs
// a thread 3 kPer FP operations and y_t[p] is a sum over the row's lanes by shuffles. Tokens go in chunks through
// shared memory: B and C of the chunk (zero-padded to lanes x kPer states), x and z of the block's rows, and the
// step sizes and decays, computed once per token for the block; y is gathered there and written out coalesced.
// The recurrence is sequential in time within a block: it takes the step, short inputs and dstate up to 256;
// longer inputs go to the chunked form on tensor cores (ssd_scan_chunked.cu, PreferChunked below). The recurrence
// alone measured on an H200 (fp32, softplus dt, D, z): B1 L4096 H32 P64 N128 1.38 ms, B1 L65536 21.8 ms, B8 L2048
// H24 2.98 ms. Tried: each thread holding 4 rows, so B and C are read from shared memory once per 4 rows: B8 2.27 ms,
// but B1 3.55 ms (a quarter of the warps, each waiting on shuffles and shared loads: Nsight Compute's top stall
// is the short scoreboard).
#ifdef LONGSEQ_CUDA_EMULATE  // the kernels alone, on the CPU (cuda/emulate.h)
#include "cuda/ssd_scan_chunked.h"
#else
#include "cpu/ssd_scan.h"
#include "cuda/common.cuh"
#include "cuda/ssd_scan_chunked.h"
#endif

namespace ls {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxDstate = 256;        // lanes (<= 32) x kPer (<= 8)
constexpr int kSharedBytes = 96 << 10;  // the chunk's staging

// T: the storage of x, z, B, C and y (float or bf16, widened in shared memory); the rest is float.
template <typename T>
struct SsdArgs {
  int64_t batch, seqlen, heads, head_dim, groups, dstate;
  const T *x, *B, *C, *z;
  const float *dt, *A, *D, *dt_bias, *initial_state;
  T* y;
  float* final_state;
  bool D_per_dim, dt_softplus;
  float dt_min, dt_max;
};

// The chunk of tokens a block stages at once, for `width` padded states and `rows` rows per block.
__host__ __device__ constexpr int ChunkTokens(int width, int rows) {
  const int per_token = 4 * (2 * width + 3 * rows + 2);  // B, C; x, z, y; dt, decay
  int tokens = kSharedBytes / per_token;
  return tokens > 256 ? 256 : tokens;
}

template <typename T, int kPer>
__global__ void __launch_bounds__(kThreads) SsdKernel(const SsdArgs<T> a, int lanes_log2, int chunk) {
  LS_SHARED(float, shared);
  const int lanes = 1 << lanes_log2, rows = kThreads >> lanes_log2, width = lanes * kPer;
  float* Bs = shared;                   // [chunk][width]
  float* Cs = Bs + chunk * width;       // [chunk][width]
  float* xs = Cs + chunk * width;       // [chunk][rows]
  float* zs = xs + chunk * rows;        // [chunk][rows]
  float* ys = zs + chunk * rows;        // [chunk][rows]
  float* dts = ys + chunk * rows;       // [chunk]
  float* decays = dts + chunk;          // [chunk]
  const int P = static_cast<int>(a.head_dim), N = static_cast<int>(a.dstate), H = static_cast<int>(a.heads);
  const int blocks_per_head = (P + rows - 1) / rows;
  const int bh = blockIdx.x / blocks_per_head;
  const int b = bh / H, h = bh % H;
  const int p0 = (blockIdx.x % blocks_per_head) * rows;
  const int g = h / (H / static_cast<int>(a.groups));
  const int row = threadIdx.x >> lanes_log2, lane = threadIdx.x & (lanes - 1);
  const int p = p0 + row;
  const bool active = p < P;
  const float A = a.A[h] * kLog2e;
  const float bias = a.dt_bias ? a.dt_bias[h] : 0.f;
  const float D = a.D ? a.D[a.D_per_dim ? h * P + (active ? p : 0) : h] : 0.f;

  float state[kPer];
  const int64_t state_row = ((static_cast<int64_t>(b) * H + h) * P + p) * N;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int n = lane * kPer + j;
    state[j] = active && n < N && a.initial_state ? a.initial_state[state_row + n] : 0.f;
  }

  const int64_t L = a.seqlen;
  const int width_log2 = lanes_log2 + (kPer == 8 ? 3 : kPer == 4 ? 2 : kPer == 2 ? 1 : 0);
  const int rows_log2 = 8 - lanes_log2;  // kThreads = 256
  for (int64_t t0 = 0; t0 < L; t0 += chunk) {
    const int count = static_cast<int>(L - t0 < chunk ? L - t0 : chunk);
    for (int i = threadIdx.x; i < count << width_log2; i += kThreads) {
      const int t = i >> width_log2, n = i & (width - 1);
      const int64_t at = n < N ? ((b * L + t0 + t) * a.groups + g) * N + n : 0;
      StageElement(Bs + i, a.B + at, n < N);
      StageElement(Cs + i, a.C + at, n < N);
    }
    for (int i = threadIdx.x; i < count << rows_log2; i += kThreads) {
      const int t = i >> rows_log2, r = i & (rows - 1);
      const int64_t at = p0 + r < P ? ((b * L + t0 + t) * H + h) * P + p0 + r : 0;
      StageElement(xs + i, a.x + at, p0 + r < P);
      if (a.z) StageElement(zs + i, a.z + at, p0 + r < P);
    }
    for (int t = threadIdx.x; t < count; t += kThreads) {
      const float dt = SsdStepSize(a.dt[(b * L + t0 + t) * H + h], bias, a.dt_softplus, a.dt_min, a.dt_max);
      dts[t] = dt;
      decays[t] = Exp2(dt * A);
    }
    CommitCopies();
    WaitCopies<0>();
    __syncthreads();
    // kTokens tokens at a time: their sums and shuffles are independent chains that overlap (one token at a time,
    // each waited on its own eight dependent multiply-adds and log2(lanes) shuffles).
    constexpr int kTokens = 4;
    for (int t = 0; t < count; t += kTokens) {
      float acc[kTokens];
#pragma unroll
      for (int u = 0; u < kTokens; ++u) {
        const int tu = t + u < count ? t + u : count - 1;  // past the end: recomputed, never stored or kept
        const bool real = t + u < count;
        const float x = xs[(tu << rows_log2) + row];
        const float dtx = real ? dts[tu] * x : 0.f, decay = real ? decays[tu] : 1.f;
        const float* Bt = Bs + (tu << width_log2) + lane * kPer;
        const float* Ct = Cs + (tu << width_log2) + lane * kPer;
        float Bn[kPer], Cn[kPer];
        if (kPer >= 4) {
#pragma unroll
          for (int j = 0; j < kPer; j += 4) {
            const float4 b4 = *reinterpret_cast<const float4*>(Bt + j), c4 = *reinterpret_cast<const float4*>(Ct + j);
            Bn[j] = b4.x, Bn[j + 1] = b4.y, Bn[j + 2] = b4.z, Bn[j + 3] = b4.w;
            Cn[j] = c4.x, Cn[j + 1] = c4.y, Cn[j + 2] = c4.z, Cn[j + 3] = c4.w;
          }
        } else {
#pragma unroll
          for (int j = 0; j < kPer; ++j) Bn[j] = Bt[j], Cn[j] = Ct[j];
        }
        float even = 0.f, odd = 0.f;
#pragma unroll
        for (int j = 0; j < kPer; ++j) {
          state[j] = fmaf(state[j], decay, dtx * Bn[j]);
          if (j % 2 == 0) even = fmaf(state[j], Cn[j], even);
          else odd = fmaf(state[j], Cn[j], odd);
        }
        acc[u] = even + odd;
      }
      for (int off = lanes / 2; off >= 1; off /= 2) {
#pragma unroll
        for (int u = 0; u < kTokens; ++u) acc[u] += __shfl_xor_sync(0xffffffffu, acc[u], off);
      }
      if (lane == 0) {
#pragma unroll
        for (int u = 0; u < kTokens; ++u) {
          if (t + u < count) {
            const int at = ((t + u) << rows_log2) + row;
            float y = fmaf(D, xs[at], acc[u]);
            if (a.z) y *= Silu(zs[at]);
            ys[at] = y;
          }
        }
      }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < count << rows_log2; i += kThreads) {
      const int t = i >> rows_log2, r = i & (rows - 1);
      if (p0 + r < P) StoreAs(a.y + ((b * L + t0 + t) * H + h) * P + p0 + r, ys[i]);
    }
    // The next chunk's staging overwrites what this one's output loop reads.
    __syncthreads();
  }
  if (a.final_state && active) {
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const int n = lane * kPer + j;
      if (n < N) a.final_state[state_row + n] = state[j];
    }
  }
}

#ifndef LONGSEQ_CUDA_EMULATE
template <typename T, int kPer>
ls_status Launch(const SsdArgs<T>& a, int lanes_log2, cudaStream_t stream) {
  const int rows = kThreads >> lanes_log2;
  const int chunk = ChunkTokens((1 << lanes_log2) * kPer, rows);
  const size_t bytes = static_cast<size_t>(4) * (chunk * (2 * ((1 << lanes_log2) * kPer) + 3 * rows + 2));
  LS_CUDA_TRY(cudaFuncSetAttribute(SsdKernel<T, kPer>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
              "ssd_scan shared memory");
  const int64_t blocks = a.batch * a.heads * ((a.head_dim + rows - 1) / rows);
  SsdKernel<T, kPer><<<static_cast<unsigned>(blocks), kThreads, bytes, stream>>>(a, lanes_log2, chunk);
  LS_CUDA_TRY(cudaGetLastError(), "ssd_scan launch");
  return LS_OK;
}

template <typename T>
ls_status Scan(const ls_ssd_scan_params& p, cudaStream_t stream) {
  if (p.dstate > kMaxDstate) {
    return ::ls::Fail(LS_INVALID_ARGUMENT, "dstate must be <= %d on CUDA, got %lld", kMaxDstate, static_cast<long long>(p.dstate));
  }
  if (p.batch * p.heads * p.head_dim > (int64_t{1} << 31) || p.batch * p.seqlen * p.heads * p.head_dim > (int64_t{1} << 40)) {
    return ::ls::Fail(LS_INVALID_ARGUMENT, "ssd_scan: batch x heads x head_dim is too large for one launch");
  }
  // Lanes per state row: enough that each holds at most 8 states, a power of two up to 32.
  int lanes_log2 = 0;
  while ((1 << lanes_log2) * 8 < p.dstate) ++lanes_log2;
  const int per = static_cast<int>((p.dstate + (1 << lanes_log2) - 1) >> lanes_log2);
  const SsdArgs<T> a = {p.batch, p.seqlen, p.heads, p.head_dim, p.groups, p.dstate,
                        reinterpret_cast<const T*>(p.x), reinterpret_cast<const T*>(p.B), reinterpret_cast<const T*>(p.C),
                        reinterpret_cast<const T*>(p.z), p.dt, p.A, p.D, p.dt_bias, p.initial_state,
                        reinterpret_cast<T*>(p.y), p.final_state, p.D_per_dim != 0, p.dt_softplus != 0, p.dt_min, p.dt_max};
  if (per <= 1) return Launch<T, 1>(a, lanes_log2, stream);
  if (per <= 2) return Launch<T, 2>(a, lanes_log2, stream);
  if (per <= 4) return Launch<T, 4>(a, lanes_log2, stream);
  return Launch<T, 8>(a, lanes_log2, stream);
}

ls_status Scan(const ls_ssd_scan_params& p, cudaStream_t stream) {
  return p.storage == LS_BFLOAT16 ? Scan<__nv_bfloat16>(p, stream) : Scan<float>(p, stream);
}

// The chunked form (ssd_scan_chunked.cu) past one chunk of 128 tokens, where it fits. Measured on an H200: B1 L300
// H4 P64 N128 G2 chunked 0.063 ms, recurrent 0.107; B2 L77 H6 P10 N5 0.040 against 0.035.
bool PreferChunked(const ls_ssd_scan_params& p) {
  if (p.algorithm == LS_SSD_RECURRENT || !SsdChunkedFits(p)) return false;
  return p.algorithm == LS_SSD_CHUNKED ? p.seqlen > 1 : p.seqlen > 128;
}

#endif  // LONGSEQ_CUDA_EMULATE
}  // namespace
}  // namespace cuda
}  // namespace ls

#ifndef LONGSEQ_CUDA_EMULATE
extern "C" ls_status ls_ssd_scan_cuda(const ls_ssd_scan_params* p, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::ValidateSsdScan(*p)) return s;
  if (ls::cuda::PreferChunked(*p)) return ls::cuda::LaunchSsdChunked(*p, ls::cuda::Stream(stream));
  return ls::cuda::Scan(*p, ls::cuda::Stream(stream));
}

extern "C" ls_status ls_ssd_scan_step_cuda(const ls_ssd_scan_step_params* p, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::CheckPointer("state", p->state)) return s;
  // Each thread reads its states before it writes them, so the state can be both ends of the one-token scan.
  const ls_ssd_scan_params scan = ls::SsdScanStepAsScan(*p);
  if (ls_status s = ls::ValidateSsdScan(scan)) return s;
  return ls::cuda::Scan(scan, ls::cuda::Stream(stream));
}
#endif  // LONGSEQ_CUDA_EMULATE
