// The (gated) delta rule and its decode step on the GPU (ls_delta_rule_cuda, ls_delta_rule_step_cuda), as the
// recurrence: per token, S <- exp(g) S; v' = beta (v - S^T k); S <- S + k v'^T; o = scale S^T q.
//
// A block takes one (batch, value head) and 32 columns of its K x V state, one column per lane; warp w holds rows
// [16 w, 16 w + 16) of them in registers, so the state is read and written once, coalesced (a row of 32 columns per
// warp access). Per token a thread forms its rows' parts of S^T k and S^T q in one sweep, the warps add their
// parts through shared memory (one barrier per token, the parts double-buffered), and with d = exp(g):
// v' = beta (v - d S^T k), o = scale (d S^T q + v' k^T q), S = d S + k v'^T. Tokens are staged in chunks: q, k
// (L2-normalized there when asked), v, beta, exp(g) and k^T q. One token (the step) takes DeltaStepKernel, the same
// layout without the staging.
//
// Sequences longer than a chunk go to the chunked form (delta_rule_chunked.cu, PreferChunked below) where
// key_dim <= 128: the recurrence is sequential in time within a block, so it suits decode, short sequences and
// key_dim up to 256.

#ifdef LONGSEQ_CUDA_EMULATE  // the kernels alone, on the CPU (cuda/emulate.h)
#include "cuda/device.cuh"
#else
#include "cpu/delta_rule.h"
#include "cuda/common.cuh"
#include "cuda/delta_rule_chunked.h"
#endif

namespace ls {
namespace cuda {
namespace {

constexpr int kRows = 16;      // state rows per thread
constexpr int kColumns = 32;   // state columns per block, one per lane
constexpr int kMaxKeyDim = 256;
constexpr int kChunk = 32;     // tokens staged at once

// T: the storage of q, k, v and o (float, or bf16 widened when read); beta, g and the states are float.
template <typename T>
struct RuleArgs {
  int64_t batch, seqlen, heads, value_heads, key_dim, value_dim;
  const T *q, *k, *v;
  const float *beta, *g, *initial_state;
  T* o;
  float* final_state;
  float scale;
  bool l2norm;
};

// Shared floats for `padded` = 16 x warps rows: q and k of a chunk, v of its 32 columns, beta, exp(g), k^T q,
// and the warps' parts of S^T k and S^T q (two buffers).
__host__ __device__ constexpr size_t SharedBytes(int padded, int warps) {
  return sizeof(float) * (2 * kChunk * padded + kChunk * kColumns + 3 * kChunk + 2 * 2 * warps * kColumns);
}

__device__ __forceinline__ float WarpSum(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

// A step's one query and key of length K, summed over the warp: returns k . q, and sets rq and rk to the factors
// that L2-normalize q and k (1 without l2norm).
template <typename T>
__device__ __forceinline__ float QkProducts(const T* q, const T* k, int K, bool l2norm, float& rq, float& rk) {
  float qq = 0.f, kk = 0.f, kq = 0.f;
  for (int i = threadIdx.x % 32; i < K; i += 32) {
    const float x = ToFloat(q[i]), y = ToFloat(k[i]);
    qq = fmaf(x, x, qq), kk = fmaf(y, y, kk), kq = fmaf(x, y, kq);
  }
  qq = WarpSum(qq), kk = WarpSum(kk), kq = WarpSum(kq);
  rq = l2norm ? rsqrtf(qq + 1e-6f) : 1.f, rk = l2norm ? rsqrtf(kk + 1e-6f) : 1.f;
  return kq;
}

// blockIdx.x = (b * value_heads + hv) * groups + group; blockDim.x = 32 x ceil(key_dim / 16).
template <typename E>
__global__ void __launch_bounds__(32 * kMaxKeyDim / kRows) DeltaRuleKernel(const RuleArgs<E> a, int groups) {
  LS_SHARED(float, shared);
  const int K = static_cast<int>(a.key_dim), V = static_cast<int>(a.value_dim), T = static_cast<int>(a.seqlen);
  const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int padded = warps * kRows;  // rows past K are zero in q and k, so they leave S's zero rows alone
  float* qs = shared;                        // [kChunk][padded]
  float* ks = qs + kChunk * padded;          // [kChunk][padded]
  float* vs = ks + kChunk * padded;          // [kChunk][32]
  float* betas = vs + kChunk * kColumns;     // [kChunk]
  float* decays = betas + kChunk;            // [kChunk]
  float* kqs = decays + kChunk;              // [kChunk]
  float2* parts = reinterpret_cast<float2*>(kqs + kChunk);  // [2][warps][32]
  const int64_t bh = blockIdx.x / groups, b = bh / a.value_heads, hv = bh % a.value_heads;
  const int64_t h = hv / (a.value_heads / a.heads);
  const int column0 = (blockIdx.x % groups) * kColumns, j = column0 + lane, row0 = warp * kRows;
  const bool has_column = j < V;

  float S[kRows];
  const float* s0 = a.initial_state ? a.initial_state + bh * K * V : nullptr;
#pragma unroll
  for (int m = 0; m < kRows; ++m) {
    const int i = row0 + m;
    S[m] = s0 && has_column && i < K ? s0[static_cast<int64_t>(i) * V + j] : 0.f;
  }

  for (int t0 = 0; t0 < T; t0 += kChunk) {
    const int n = T - t0 < kChunk ? T - t0 : kChunk;
    __syncthreads();  // the previous chunk is done with the staging buffers
    for (int e = threadIdx.x; e < n * padded; e += blockDim.x) {
      const int t = e / padded, i = e % padded;
      const int64_t at = ((b * a.seqlen + t0 + t) * a.heads + h) * K + i;
      qs[e] = i < K ? ToFloat(a.q[at]) : 0.f;
      ks[e] = i < K ? ToFloat(a.k[at]) : 0.f;
    }
    for (int e = threadIdx.x; e < n * kColumns; e += blockDim.x) {
      const int t = e / kColumns, c = column0 + e % kColumns;
      vs[e] = c < V ? ToFloat(a.v[((b * a.seqlen + t0 + t) * a.value_heads + hv) * V + c]) : 0.f;
    }
    for (int t = threadIdx.x; t < n; t += blockDim.x) {
      const int64_t at = (b * a.seqlen + t0 + t) * a.value_heads + hv;
      betas[t] = a.beta[at];
      decays[t] = a.g ? Exp2(a.g[at] * kLog2e) : 1.f;
    }
    __syncthreads();
    for (int t = warp; t < n; t += warps) {  // per token: the norms, and k^T q
      float qq = 0.f, kk = 0.f, kq = 0.f;
      for (int i = lane; i < K; i += 32) {
        const float x = qs[t * padded + i], y = ks[t * padded + i];
        qq = fmaf(x, x, qq), kk = fmaf(y, y, kk), kq = fmaf(x, y, kq);
      }
      qq = WarpSum(qq), kk = WarpSum(kk), kq = WarpSum(kq);
      if (a.l2norm) {
        const float rq = rsqrtf(qq + 1e-6f), rk = rsqrtf(kk + 1e-6f);
        for (int i = lane; i < K; i += 32) qs[t * padded + i] *= rq, ks[t * padded + i] *= rk;
        kq *= rq * rk;
      }
      if (lane == 0) kqs[t] = kq;
    }
    __syncthreads();
    for (int t = 0; t < n; ++t) {
      const float4* kt = reinterpret_cast<const float4*>(ks + t * padded + row0);
      const float4* qt = reinterpret_cast<const float4*>(qs + t * padded + row0);
      float kr[kRows];
      float pk = 0.f, pq = 0.f;
#pragma unroll
      for (int m4 = 0; m4 < kRows / 4; ++m4) {
        const float4 k4 = kt[m4], q4 = qt[m4];
        kr[4 * m4] = k4.x, kr[4 * m4 + 1] = k4.y, kr[4 * m4 + 2] = k4.z, kr[4 * m4 + 3] = k4.w;
        pk = fmaf(S[4 * m4], k4.x, pk), pq = fmaf(S[4 * m4], q4.x, pq);
        pk = fmaf(S[4 * m4 + 1], k4.y, pk), pq = fmaf(S[4 * m4 + 1], q4.y, pq);
        pk = fmaf(S[4 * m4 + 2], k4.z, pk), pq = fmaf(S[4 * m4 + 2], q4.z, pq);
        pk = fmaf(S[4 * m4 + 3], k4.w, pk), pq = fmaf(S[4 * m4 + 3], q4.w, pq);
      }
      float2* part = parts + (t & 1) * warps * kColumns;
      part[warp * kColumns + lane] = make_float2(pk, pq);
      __syncthreads();
      float sk = 0.f, sq = 0.f;
      for (int w = 0; w < warps; ++w) {
        const float2 p = part[w * kColumns + lane];
        sk += p.x, sq += p.y;
      }
      const float d = decays[t], vp = betas[t] * (vs[t * kColumns + lane] - d * sk);
      if (warp == 0 && has_column) {
        StoreAs(a.o + ((b * a.seqlen + t0 + t) * a.value_heads + hv) * V + j, a.scale * fmaf(d, sq, vp * kqs[t]));
      }
#pragma unroll
      for (int m = 0; m < kRows; ++m) S[m] = fmaf(d, S[m], kr[m] * vp);
    }
  }

  if (a.final_state && has_column) {
    float* s1 = a.final_state + bh * K * V;
#pragma unroll
    for (int m = 0; m < kRows; ++m) {
      const int i = row0 + m;
      if (i < K) s1[static_cast<int64_t>(i) * V + j] = S[m];
    }
  }
}

// One token (the decode step, or a rule over T = 1): the same block layout without the staging, so that the state
// is the only traffic and one barrier the only wait. Each warp forms the norms and k^T q over all of K itself
// (K <= 256 values, read through L1) and its rows of k and q directly.
template <typename T>
__global__ void __launch_bounds__(32 * kMaxKeyDim / kRows) DeltaStepKernel(const RuleArgs<T> a, int groups) {
  __shared__ float2 parts[kMaxKeyDim / kRows][kColumns];
  const int K = static_cast<int>(a.key_dim), V = static_cast<int>(a.value_dim);
  const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bh = blockIdx.x / groups, b = bh / a.value_heads, hv = bh % a.value_heads;
  const int64_t h = hv / (a.value_heads / a.heads);
  const int j = (blockIdx.x % groups) * kColumns + lane, row0 = warp * kRows;
  const bool has_column = j < V;
  float S[kRows];
  const float* s0 = a.initial_state ? a.initial_state + bh * K * V : nullptr;
#pragma unroll
  for (int m = 0; m < kRows; ++m) {
    const int i = row0 + m;
    S[m] = s0 && has_column && i < K ? s0[i * V + j] : 0.f;
  }
  const T* q = a.q + (b * a.heads + h) * K;
  const T* k = a.k + (b * a.heads + h) * K;
  float rq, rk;
  const float kq = QkProducts(q, k, K, a.l2norm, rq, rk);
  float kr[kRows];
  float pk = 0.f, pq = 0.f;
#pragma unroll
  for (int m = 0; m < kRows; ++m) {
    const int i = row0 + m;
    kr[m] = i < K ? ToFloat(k[i]) * rk : 0.f;
    pk = fmaf(S[m], kr[m], pk);
    pq = fmaf(S[m], i < K ? ToFloat(q[i]) * rq : 0.f, pq);
  }
  parts[warp][lane] = make_float2(pk, pq);
  __syncthreads();
  float sk = 0.f, sq = 0.f;
  for (int w = 0; w < warps; ++w) sk += parts[w][lane].x, sq += parts[w][lane].y;
  const float d = a.g ? Exp2(a.g[bh] * kLog2e) : 1.f;
  const float vp = a.beta[bh] * ((has_column ? ToFloat(a.v[bh * V + j]) : 0.f) - d * sk);
  if (warp == 0 && has_column) StoreAs(a.o + bh * V + j, a.scale * fmaf(d, sq, vp * kq * rq * rk));
  if (a.final_state && has_column) {
    float* s1 = a.final_state + bh * K * V;
#pragma unroll
    for (int m = 0; m < kRows; ++m) {
      const int i = row0 + m;
      if (i < K) s1[i * V + j] = fmaf(d, S[m], kr[m] * vp);
    }
  }
}

// Four consecutive v elements as floats, and o's four back: one 16-byte (float) or 8-byte (bf16) access.
__device__ __forceinline__ float4 LoadQuad(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ float4 LoadQuad(const __nv_bfloat16* p) {
  float v[4];
  Quad<__nv_bfloat16>::Unpack(*reinterpret_cast<const uint2*>(p), v);
  return make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void StoreQuad(float* p, float4 x) { *reinterpret_cast<float4*>(p) = x; }
__device__ __forceinline__ void StoreQuad(__nv_bfloat16* p, float4 x) {
  *reinterpret_cast<uint2*>(p) = Quad<__nv_bfloat16>::Pack({x.x, x.y, x.z, x.w});
}

// The step with four value columns per thread (DeltaStepKernel's layout otherwise): 16-byte loads and stores of the
// state, a block per (b * value_heads + hv, 128 columns). For value_dim a multiple of 4 and aligned tensors
// (StepQuadsFit).
template <typename T>
__global__ void __launch_bounds__(32 * kMaxKeyDim / kRows) DeltaStepQuadKernel(const RuleArgs<T> a, int groups) {
  __shared__ float4 parts[kMaxKeyDim / kRows][kColumns][2];
  const int K = static_cast<int>(a.key_dim), V = static_cast<int>(a.value_dim);
  const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bh = blockIdx.x / groups, b = bh / a.value_heads, hv = bh % a.value_heads;
  const int64_t h = hv / (a.value_heads / a.heads);
  const int j = (blockIdx.x % groups) * 4 * kColumns + 4 * lane, row0 = warp * kRows;
  const bool has_columns = j < V;  // all four: V is a multiple of 4
  float4 S[kRows];
  const float* s0 = a.initial_state ? a.initial_state + bh * K * V : nullptr;
#pragma unroll
  for (int m = 0; m < kRows; ++m) {
    const int i = row0 + m;
    S[m] = s0 && has_columns && i < K ? *reinterpret_cast<const float4*>(s0 + i * V + j) : make_float4(0.f, 0.f, 0.f, 0.f);
  }
  const T* q = a.q + (b * a.heads + h) * K;
  const T* k = a.k + (b * a.heads + h) * K;
  float rq, rk;
  const float kq = QkProducts(q, k, K, a.l2norm, rq, rk);
  float kr[kRows];
  float4 pk = make_float4(0.f, 0.f, 0.f, 0.f), pq = pk;
#pragma unroll
  for (int m = 0; m < kRows; ++m) {
    const int i = row0 + m;
    kr[m] = i < K ? ToFloat(k[i]) * rk : 0.f;
    const float qr = i < K ? ToFloat(q[i]) * rq : 0.f;
    pk.x = fmaf(S[m].x, kr[m], pk.x), pk.y = fmaf(S[m].y, kr[m], pk.y), pk.z = fmaf(S[m].z, kr[m], pk.z), pk.w = fmaf(S[m].w, kr[m], pk.w);
    pq.x = fmaf(S[m].x, qr, pq.x), pq.y = fmaf(S[m].y, qr, pq.y), pq.z = fmaf(S[m].z, qr, pq.z), pq.w = fmaf(S[m].w, qr, pq.w);
  }
  parts[warp][lane][0] = pk, parts[warp][lane][1] = pq;
  __syncthreads();
  float4 sk = make_float4(0.f, 0.f, 0.f, 0.f), sq = sk;
  for (int w = 0; w < warps; ++w) {
    const float4 x = parts[w][lane][0], y = parts[w][lane][1];
    sk.x += x.x, sk.y += x.y, sk.z += x.z, sk.w += x.w;
    sq.x += y.x, sq.y += y.y, sq.z += y.z, sq.w += y.w;
  }
  if (!has_columns) return;
  const float d = a.g ? Exp2(a.g[bh] * kLog2e) : 1.f, beta = a.beta[bh];
  const float4 v = LoadQuad(a.v + bh * V + j);
  const float4 vp = make_float4(beta * (v.x - d * sk.x), beta * (v.y - d * sk.y), beta * (v.z - d * sk.z), beta * (v.w - d * sk.w));
  if (warp == 0) {
    const float c = kq * rq * rk;
    StoreQuad(a.o + bh * V + j, make_float4(a.scale * fmaf(d, sq.x, vp.x * c), a.scale * fmaf(d, sq.y, vp.y * c),
                                            a.scale * fmaf(d, sq.z, vp.z * c), a.scale * fmaf(d, sq.w, vp.w * c)));
  }
  if (a.final_state) {
    float* s1 = a.final_state + bh * K * V;
#pragma unroll
    for (int m = 0; m < kRows; ++m) {
      const int i = row0 + m;
      if (i < K) {
        *reinterpret_cast<float4*>(s1 + i * V + j) = make_float4(fmaf(d, S[m].x, kr[m] * vp.x), fmaf(d, S[m].y, kr[m] * vp.y),
                                                                 fmaf(d, S[m].z, kr[m] * vp.z), fmaf(d, S[m].w, kr[m] * vp.w));
      }
    }
  }
}

#ifndef LONGSEQ_CUDA_EMULATE
bool StepQuadsFit(const ls_delta_rule_params& p) {
  const auto aligned = [](const void* x, int bytes) { return reinterpret_cast<uintptr_t>(x) % bytes == 0; };
  const int quad = p.storage == LS_BFLOAT16 ? 8 : 16;  // four v and o elements
  return p.value_dim % 4 == 0 && aligned(p.v, quad) && aligned(p.o, quad) && aligned(p.initial_state, 16) &&
         aligned(p.final_state, 16);
}

template <typename T>
ls_status Launch(const ls_delta_rule_params& p, cudaStream_t stream, const char* op) {
  if (p.key_dim > kMaxKeyDim) {
    return ls::Fail(LS_INVALID_ARGUMENT, "%s on the GPU needs key_dim <= %d, got %lld", op, kMaxKeyDim,
                    static_cast<long long>(p.key_dim));
  }
  const int groups = static_cast<int>((p.value_dim + kColumns - 1) / kColumns);
  const int64_t blocks = p.batch * p.value_heads * groups;
  if (blocks >= (int64_t{1} << 31) || p.seqlen > (int64_t{1} << 31) - kChunk) {
    return ls::Fail(LS_INVALID_ARGUMENT, "%s on the GPU: batch * value_heads * ceil(value_dim / 32) and seqlen must be "
                                         "below 2^31", op);
  }
  const int warps = static_cast<int>((p.key_dim + kRows - 1) / kRows);
  const size_t shared = SharedBytes(warps * kRows, warps);
  // Once, for the widest key_dim: setting it on every call cost as much as a small step.
  LS_CUDA_TRY(Once([] {
    const int most = static_cast<int>(SharedBytes(kMaxKeyDim, kMaxKeyDim / kRows));
    return cudaFuncSetAttribute(DeltaRuleKernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, most);
  }), op);
  const RuleArgs<T> a = {p.batch, p.seqlen, p.heads, p.value_heads, p.key_dim, p.value_dim,
                         reinterpret_cast<const T*>(p.q), reinterpret_cast<const T*>(p.k), reinterpret_cast<const T*>(p.v),
                         p.beta, p.g, p.initial_state, reinterpret_cast<T*>(p.o), p.final_state, p.scale, p.use_qk_l2norm != 0};
  if (p.seqlen == 1 && StepQuadsFit(p)) {
    const int quad_groups = static_cast<int>((p.value_dim + 4 * kColumns - 1) / (4 * kColumns));
    DeltaStepQuadKernel<T><<<static_cast<unsigned>(p.batch * p.value_heads * quad_groups), 32 * warps, 0, stream>>>(a, quad_groups);
  } else if (p.seqlen == 1) {
    DeltaStepKernel<T><<<static_cast<unsigned>(blocks), 32 * warps, 0, stream>>>(a, groups);
  } else {
    DeltaRuleKernel<T><<<static_cast<unsigned>(blocks), 32 * warps, shared, stream>>>(a, groups);
  }
  LS_CUDA_TRY(cudaGetLastError(), op);
  return LS_OK;
}

ls_status Launch(const ls_delta_rule_params& p, cudaStream_t stream, const char* op) {
  return p.storage == LS_BFLOAT16 ? Launch<__nv_bfloat16>(p, stream, op) : Launch<float>(p, stream, op);
}

// The chunked form (delta_rule_chunked.cu) from two chunks on, where it fits: its sequential part is a walk over
// chunks of 64 tokens where the recurrence walks tokens.
bool PreferChunked(const ls_delta_rule_params& p) {
  if (p.algorithm == LS_DELTA_RECURRENT || !DeltaRuleChunkedFits(p)) return false;
  return p.algorithm == LS_DELTA_CHUNKED ? p.seqlen > 1 : p.seqlen > 64;
}

#endif  // LONGSEQ_CUDA_EMULATE
}  // namespace
}  // namespace cuda
}  // namespace ls

#ifndef LONGSEQ_CUDA_EMULATE
extern "C" ls_status ls_delta_rule_cuda(const ls_delta_rule_params* p, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::ValidateDeltaRule(*p)) return s;
  if (ls::cuda::PreferChunked(*p)) return ls::cuda::LaunchDeltaRuleChunked(*p, ls::cuda::Stream(stream));
  return ls::cuda::Launch(*p, ls::cuda::Stream(stream), "deltaRule");
}

extern "C" ls_status ls_delta_rule_step_cuda(const ls_delta_rule_step_params* p, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::CheckPointer("state", p->state)) return s;
  const ls_delta_rule_params rule = ls::DeltaRuleStepAsRule(*p);
  if (ls_status s = ls::ValidateDeltaRule(rule)) return s;
  return ls::cuda::Launch(rule, ls::cuda::Stream(stream), "deltaRuleStep");
}
#endif  // LONGSEQ_CUDA_EMULATE
