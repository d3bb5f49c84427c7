// Long causal convolution on the GPU (ls_fft_conv_cuda, ls_fft_conv_spectrum_cuda), as the CPU entries:
// y = irfft(rfft(u) * rfft(k)) over n = the smallest power of two >= L + Lk - 1, plus D u.
//
// Two channels share one complex FFT: rows a and b of u go in as a + i b (zero-padded to n), and so do their
// filters. From Z = FFT(a + i b) and S = FFT(ka + i kb), the spectrum of (a*ka) + i (b*kb) at f needs Z and S
// at f and at -f (UntangleFilters, MultiplyUntangled), so the inverse FFT gives both channels' outputs as its real
// and imaginary parts. That halves the transforms against one real row per complex FFT, and needs no separate
// real-FFT pass.
//
// Every FFT runs in a block, in shared memory: Stockham passes of radix 16 (radix 32 at n = 2^14; then 8, 4 or 2 for
// the rest), each thread taking its butterfly's points into registers, so the output is in natural order and no bit
// reversal is needed. The first pass reads its points from global memory and the last writes them there, where the
// kernel allows, and a first pass over zero padding skips the zeros' radix-2 stage. The twiddles come from the
// special-function unit (__sincosf, absolute error under 4e-7), four per radix-16 butterfly (five per radix-32) and
// the rest as their products.
//
// n <= 2^14 (L <= 8K with Lk = L): one fused kernel per (pair of channels, batch row): FFT from u, multiply (D folded
// into the filters' spectrum), inverse FFT, y; where n is not a power of 16, the forward FFT's last pass, the product
// and the inverse's first pass are one pass (MiddlePass). The filters' FFT runs in the same block when the batch is one
// row and both fit in shared memory (n <= 2^13), otherwise their spectrum comes from a first kernel (or a plan), kept
// untangled (UntangledSpectrum) so that each product costs half as much. At 2^13 with the filters' FFT in the block,
// the block's work is split among its warps (SplitConvKernel), with 2 block barriers instead of 12. That kernel and the
// spectrum kernel at 2^14 are staged where their rows allow (ForEachStagedItem): each block takes a run of items, the
// next one's rows copied into shared memory while it transforms this one, so that only its first item waits on device
// memory.
// Where the device's blocks are too small for 2^14 points (99 KB: sm_86, sm_89), n = 2^14 goes the four-step way.
// Larger n: the four-step FFT, n = n1 x n2 with n2 = 4096: a column pass (n2 FFTs of length n1 over strided samples,
// times the twiddles W_n^(j2 k1)), then a row pass that takes rows k1 and n1 - k1 together (the -f of row k1's
// frequencies lie in row n1 - k1), transforms them, multiplies, transforms back and applies the inverse twiddles, then
// an inverse column pass that writes y. The frequencies stay in the four-step's order (row k1, column k2 holds
// f = k1 + n1 k2) and the filters' spectrum (S, not untangled) is kept in the same order. The rows go through the
// passes in chunks (kChunkBytes, kMinChunkBlocks).
// u, k and y may be bfloat16 (loaded and stored as such); the transforms, D and the spectrum are float32.
//
// Measured on an H200 (fp32, the filters' FFT included; BENCHMARKS.md, 2026-12-06, main at 779e9ca): B1 H768 L4096
// 0.0353 ms, B8 H768 L8192 0.358 ms, B1 H768 L2^17 2.14 ms, B1 H256 L2^20 6.33 ms, B1 H64 L2^22 7.25 ms: 3.2-4.8x
// PyTorch's cuFFT convolution. The kernels are bound by instruction issue more than by memory; FusedConvKernel<14> also
// by its L1 (the shared memory carveout at its largest made B8 8% slower). Since then: the spectrum kernel at 2^14
// staged (H100: B8 0.370 -> 0.365 ms).
#include <type_traits>

#ifdef LONGSEQ_CUDA_EMULATE  // the kernels alone, on the CPU (cuda/emulate.h)
#include "cuda/device.cuh"
#else
#include "cpu/fft.h"
#include "cpu/fft_conv.h"
#include "cuda/common.cuh"
#endif

namespace ls {
namespace cuda {
namespace {

constexpr int kLogMaxFused = 14;     // the fused kernel's largest n
constexpr int kLogMinFourStep = 14;  // the four-step's smallest n (n1 = 4): it takes n = 2^14 where a fused block
                                     // does not fit (99 KB GPUs)
constexpr int kLogMaxInline = 13;    // ... with the filters' FFT in the same block
constexpr int kLogRow = 12;          // four-step: n2
constexpr int kLogMaxN = 24;         // the largest n: n1 <= 4096
constexpr int kPassThreads = 512;    // four-step row kernels: 8192 points per block, 16 per thread
// Four-step: items per chunk, as many as keep the intermediate buffer in L2 (kChunkBytes), but at least enough
// for kMinChunkBlocks blocks per launch. Measured on an H200 at L = 2^17, H768: chunks of 5 items (160 blocks,
// under one wave) took 5.3 ms; 64 items (2048 blocks), 4.2 ms; later (2026-12-03), 2048 -> 4096 blocks: 2.30 ->
// 2.17 ms at L = 2^17, 6.85 -> 6.46 ms at B1 H256 L2^20 (half the kernel boundaries). A chunk of 8192 / n1 items
// then takes up to 2 x 8192 x 4096 x 8 bytes = 512 MiB of scratch (rows and their filters' spectrum).
constexpr int64_t kChunkBytes = int64_t{24} << 20;
constexpr int64_t kMinChunkBlocks = 4096;

__device__ __forceinline__ float2 Mul(float2 a, float2 b) {
  return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
__device__ __forceinline__ float2 Add(float2 a, float2 b) { return make_float2(a.x + b.x, a.y + b.y); }
__device__ __forceinline__ float2 Sub(float2 a, float2 b) { return make_float2(a.x - b.x, a.y - b.y); }
// a and b at to[0] and to[1] in one 16-byte store (to at an even float2 of a 16-byte aligned buffer).
__device__ __forceinline__ void StoreTwo(float2* to, float2 a, float2 b) {
  *reinterpret_cast<float4*>(to) = make_float4(a.x, a.y, b.x, b.y);
}

// Shared-memory slot of point x: one float2 of padding every 16, so that a radix-16 pass's stride-16 accesses
// fall on distinct banks.
__device__ __forceinline__ int Pad(int x) { return x + (x >> 4); }
__host__ __device__ constexpr int PaddedFloat2s(int points) { return points + points / 16; }
// Pad(x + r * kStep) from padded = Pad(x): a constant offset when kStep is a multiple of 16.
template <int kStep>
__device__ __forceinline__ int PadStep(int x, int padded, int r) {
  if constexpr (kStep % 16 == 0) return padded + r * (kStep + kStep / 16);
  return Pad(x + r * kStep);
}

// cos and sin of 2 pi t / 32, t < 16.
__device__ constexpr float Cos32(int t) {
  return t == 0 ? 1.f : t == 1 ? 0.98078528040323045f : t == 2 ? 0.92387953251128674f : t == 3 ? 0.83146961230254524f
       : t == 4 ? 0.70710678118654752f : t == 5 ? 0.55557023301960218f : t == 6 ? 0.38268343236508977f
       : t == 7 ? 0.19509032201612826f : t == 8 ? 0.f : t == 9 ? -0.19509032201612826f
       : t == 10 ? -0.38268343236508977f : t == 11 ? -0.55557023301960218f : t == 12 ? -0.70710678118654752f
       : t == 13 ? -0.83146961230254524f : t == 14 ? -0.92387953251128674f : -0.98078528040323045f;
}
__device__ constexpr float Sin32(int t) {
  return t == 0 ? 0.f : t == 1 || t == 15 ? 0.19509032201612826f : t == 2 || t == 14 ? 0.38268343236508977f
       : t == 3 || t == 13 ? 0.55557023301960218f : t == 4 || t == 12 ? 0.70710678118654752f
       : t == 5 || t == 11 ? 0.83146961230254524f : t == 6 || t == 10 ? 0.92387953251128674f
       : t == 7 || t == 9 ? 0.98078528040323045f : 1.f;
}

// a + W^t b and a - W^t b into a and b, W = e^(-2 pi i / 32) (forward) or its conjugate (inverse), t < 16 a
// compile-time constant. W^t = c + i s is taken as m (1 + i r) (m = c, r = s / c) or m (r + i) (m = s, r = c / s),
// whichever has |r| <= 1: two fused multiply-adds give e = W^t b / m and four give a +- m e, six instructions against
// eight for the rotation's products and then the sums (H200, B8 H768 L8192 with the twiddles below: 0.435 -> 0.414 ms).
template <bool kInverse>
__device__ __forceinline__ void Butterfly(float2& a, float2& b, int t) {
  float2 top, bottom;
  if (t == 0) {
    top = Add(a, b), bottom = Sub(a, b);
  } else if (t == 8) {  // W^8 b = -i b (forward), i b (inverse)
    const float2 w = kInverse ? make_float2(-b.y, b.x) : make_float2(b.y, -b.x);
    top = Add(a, w), bottom = Sub(a, w);
  } else {
    const float c = Cos32(t), s = kInverse ? Sin32(t) : -Sin32(t);  // W^t = c + i s
    float m;
    float2 e;  // W^t b = m e
    if (fabsf(c) >= fabsf(s)) {  // c (1 + i s / c) b
      const float r = s / c;
      m = c, e = make_float2(fmaf(-r, b.y, b.x), fmaf(r, b.x, b.y));
    } else {  // s (c / s + i) b
      const float r = c / s;
      m = s, e = make_float2(fmaf(r, b.x, -b.y), fmaf(r, b.y, b.x));
    }
    top = make_float2(fmaf(m, e.x, a.x), fmaf(m, e.y, a.y));
    bottom = make_float2(fmaf(-m, e.x, a.x), fmaf(-m, e.y, a.y));
  }
  a = top, b = bottom;
}

// i's low `bits` bits reversed (bits <= 5), as one expression so that it folds to a constant.
__device__ constexpr int Reverse(int i, int bits) {
  return (((i & 1) << 4) | ((i & 2) << 2) | (i & 4) | ((i & 8) >> 2) | ((i & 16) >> 4)) >> (5 - bits);
}

// In-register DFT of R = 2^kBits points (radix-2 decimation in time, constant twiddles). Every index is a
// compile-time constant once unrolled, so the points stay in registers. kHalfZero: v[R/2..R) are zero (a
// zero-padded input), so the first stage only copies. kHalfOut: only v[0..R/2) are wanted (and set), so the last
// stage's other halves are left out.
template <int kBits, bool kInverse, bool kHalfZero = false, bool kHalfOut = false>
__device__ __forceinline__ void Dft(float2 (&v)[1 << kBits]) {
  constexpr int R = 1 << kBits;
  float2 x[R];
#pragma unroll
  for (int i = 0; i < R; ++i) x[i] = v[Reverse(i, kBits)];
#pragma unroll
  for (int stage = 0; stage < kBits; ++stage) {
#pragma unroll
    for (int i = 0; i < R / 2; ++i) {
      const int half = 1 << stage, m = i & (half - 1), top = (i - m) * 2 + m;  // butterfly i of this stage
      if (kHalfZero && stage == 0) {  // x[top + 1] = v[Reverse(top) + R / 2] = 0
        x[top + half] = x[top];
        continue;
      }
      Butterfly<kInverse>(x[top], x[top + half], m * (16 >> stage));
    }
  }
#pragma unroll
  for (int i = 0; i < (kHalfOut ? R / 2 : R); ++i) v[i] = x[i];
}

// a b and a conj(b), sharing two of their products.
__device__ __forceinline__ void MulBoth(float2 a, float2 b, float2& ab, float2& ab_conj) {
  const float xx = a.x * b.x, yx = a.y * b.x;
  ab = make_float2(fmaf(-a.y, b.y, xx), fmaf(a.x, b.y, yx));
  ab_conj = make_float2(fmaf(a.y, b.y, xx), fmaf(-a.x, b.y, yx));
}

// w[r] = W_M^(k r), r < R = 2^kBits <= 32, for a butterfly at theta = 2 pi k / M < 2 pi / R: e^(-+ i theta r). The
// powers 1, 2, 4, 8 and 16 come from the special-function unit (theta r < pi, where its error bound holds), each other
// one as a product of two of them or of one before it; w^(h+d) and w^(h-d) = w^h conj(w^d) share products. w[0] is
// unset.
template <int kBits, bool kInverse>
__device__ __forceinline__ void TwiddleFactors(float2 (&w)[1 << kBits], float theta) {
  static_assert(kBits <= 5, "radix 32 at most");
  constexpr int R = 1 << kBits;
#pragma unroll
  for (int bit = 0; bit < kBits; ++bit) {
    float s, c;
    __sincosf(theta * (1 << bit), &s, &c);
    w[1 << bit] = make_float2(c, kInverse ? s : -s);
  }
  if constexpr (kBits == 2) w[3] = Mul(w[2], w[1]);
  if constexpr (kBits >= 3) MulBoth(w[4], w[1], w[5], w[3]);
  if constexpr (kBits == 3 || kBits == 5) w[6] = Mul(w[4], w[2]), w[7] = Mul(w[4], w[3]);
  if constexpr (kBits == 4) {
    MulBoth(w[8], w[1], w[9], w[7]);
    MulBoth(w[8], w[2], w[10], w[6]);
#pragma unroll
    for (int r = 11; r < R; ++r) w[r] = Mul(w[8], w[r - 8]);
  }
  if constexpr (kBits == 5) {
#pragma unroll
    for (int d = 1; d < 8; ++d) MulBoth(w[16], w[d], w[16 + d], w[16 - d]);
#pragma unroll
    for (int r = 24; r < R; ++r) w[r] = Mul(w[16], w[r - 16]);
  }
}

// v[r] *= w[r] for r >= 1.
template <int kBits>
__device__ __forceinline__ void ApplyTwiddles(float2 (&v)[1 << kBits], const float2 (&w)[1 << kBits]) {
#pragma unroll
  for (int r = 1; r < (1 << kBits); ++r) v[r] = Mul(v[r], w[r]);
}

// v[r] *= W_M^(k r), theta = 2 pi k / M (TwiddleFactors).
template <int kBits, bool kInverse>
__device__ __forceinline__ void Twiddle(float2 (&v)[1 << kBits], float theta) {
  float2 w[1 << kBits];
  TwiddleFactors<kBits, kInverse>(w, theta);
  ApplyTwiddles<kBits>(v, w);
}

// Where a pass takes its points from or puts them: buf (InShared), or a functor on global memory. The first pass
// of an FFT may read its points straight from global memory (FromGlobal) and the last may write them there
// (ToGlobal), which saves a round trip through shared memory and a barrier at each end.
struct InShared {
  static constexpr bool kShared = true;
};
// load(i, c): point i of transform c. half_zero: every point i >= N / 2 is zero (the caller knows it).
template <class F>
struct FromGlobal {
  static constexpr bool kShared = false;
  F load;
  bool half_zero;
};
// store(i, c, value): output i of transform c.
template <class F>
struct ToGlobal {
  static constexpr bool kShared = false;
  F store;
  bool half_out;  // the outputs i >= N / 2 are not wanted (the last pass leaves them out)
};
template <class F>
__device__ __forceinline__ FromGlobal<F> LoadFrom(const F& load, bool half_zero) { return {load, half_zero}; }
template <class F>
__device__ __forceinline__ ToGlobal<F> StoreTo(const F& store, bool half_out = false) { return {store, half_out}; }

// The threads that run a transform together: the whole block, or one warp (a region of a split block, below).
struct BlockGroup {
  static __device__ __forceinline__ int Rank() { return threadIdx.x; }
  static __device__ __forceinline__ void Sync() { __syncthreads(); }
};
struct WarpGroup {
  static __device__ __forceinline__ int Rank() { return threadIdx.x % 32; }
  static __device__ __forceinline__ void Sync() { __syncwarp(); }
};

// The thread's index in its block, read from its special register at each call, which the compiler cannot hoist out of
// a loop: in a staged kernel's loop over items (ForEachStagedItem), the passes' thread-dependent twiddles, worked out
// once before the loop, spilled (SplitMiddle's: 116 bytes).
__device__ __forceinline__ int FreshThreadIndex() {
#ifdef LONGSEQ_CUDA_EMULATE
  return threadIdx.x;
#else
  int index;
  asm volatile("mov.u32 %0, %%tid.x;" : "=r"(index));
  return index;
#endif
}
// The whole block, in a staged kernel's loop over items.
struct FreshBlockGroup {
  static __device__ __forceinline__ int Rank() { return FreshThreadIndex(); }
  static __device__ __forceinline__ void Sync() { __syncthreads(); }
};

// One Stockham pass of radix R = 2^kBits over kCount transforms of N = 2^kLogN points, point (i, c) at
// buf[Pad(i * kBatch + c)]; the kDone bits already done (Ns = 2^kDone). In natural order in, natural order out.
// Run by the kThreads threads of a Group; reading from buf it synchronizes them before it writes, writing to buf
// it synchronizes them at the end.
template <int kLogN, int kBits, int kDone, int kBatch, int kCount, int kThreads, bool kInverse, class Group, class Src,
          class Dst>
__device__ __forceinline__ void StockhamPass(float2* buf, const Src& src, const Dst& dst) {
  constexpr int kR = 1 << kBits, kNs = 1 << kDone, kStride = (1 << kLogN) / kR;
  constexpr int kButterflies = kStride * kCount;
  constexpr int kPer = (kButterflies + kThreads - 1) / kThreads;
  bool half_zero = false;  // points j + r * kStride, r >= R / 2, are zero
  if constexpr (!Src::kShared) half_zero = kDone == 0 && src.half_zero;
  bool half_out = false;  // the last pass's outputs i + r * Ns (i < Ns), r >= R / 2, are not wanted
  if constexpr (!Dst::kShared) half_out = kNs * kR == (1 << kLogN) && dst.half_out;
  float2 v[kPer][kR];
#pragma unroll
  for (int q = 0; q < kPer; ++q) {
    const int b = Group::Rank() + q * kThreads;
    if (kButterflies % kThreads == 0 || b < kButterflies) {
      const int c = b % kCount, j = b / kCount;
      if constexpr (Src::kShared) {
        const int x = j * kBatch + c, padded = Pad(x);
#pragma unroll
        for (int r = 0; r < kR; ++r) v[q][r] = buf[PadStep<kStride * kBatch>(x, padded, r)];
      } else {
#pragma unroll
        for (int r = 0; r < kR; ++r) {
          v[q][r] = r < kR / 2 || !half_zero ? src.load(j + r * kStride, c) : make_float2(0.f, 0.f);
        }
      }
    }
  }
  // A thread's butterflies b = Group::Rank() + q kThreads share their twiddles (k) where kThreads is a multiple of
  // kCount Ns: work them out once.
  constexpr bool kSameTwiddles = kPer > 1 && kThreads % (kCount * kNs) == 0;
  constexpr float kTheta = 6.283185307179586f / (kNs * kR);
  float2 w[kR];
  if constexpr (kNs > 1 && kSameTwiddles) {
    TwiddleFactors<kBits, kInverse>(w, kTheta * ((Group::Rank() / kCount) & (kNs - 1)));
  }
  const auto butterfly = [&](int q) {  // v[q] transformed
    const int b = Group::Rank() + q * kThreads;
    if (kButterflies % kThreads == 0 || b < kButterflies) {
      const int k = (b / kCount) & (kNs - 1);
      if constexpr (kNs > 1 && kSameTwiddles) {
        ApplyTwiddles<kBits>(v[q], w);
      } else if constexpr (kNs > 1) {
        Twiddle<kBits, kInverse>(v[q], kTheta * k);
      }
      if (half_zero) {
        Dft<kBits, kInverse, true>(v[q]);
      } else if (half_out) {
        Dft<kBits, kInverse, false, true>(v[q]);
      } else {
        Dft<kBits, kInverse>(v[q]);
      }
    }
  };
  // Reading from buf, the first butterfly is worked out before the barrier that lets the pass write, so that its
  // arithmetic overlaps the other warps' loads.
  butterfly(0);
  if constexpr (Src::kShared) Group::Sync();
#pragma unroll
  for (int q = 0; q < kPer; ++q) {
    if (q > 0) butterfly(q);
    const int b = Group::Rank() + q * kThreads;
    if (kButterflies % kThreads == 0 || b < kButterflies) {
      const int c = b % kCount, j = b / kCount;
      const int k = j & (kNs - 1);
      const int i = (j - k) * kR + k;  // output r is point i + r * Ns
      if constexpr (Dst::kShared && kNs == 1 && kR == 32 && kBatch == 1) {
        // A first pass of radix 32: the thread's outputs are points 32 j + r, in slots 34 j + r + r / 16. Its stores
        // of one point each would meet every eighth thread's on the same banks; pairs of adjacent points as 16-byte
        // stores (even slots: r, r + 1 for even r < 16, then for odd r from 17) do not.
        float2* out = buf + Pad(i);
#pragma unroll
        for (int r = 0; r < 16; r += 2) StoreTwo(out + r, v[q][r], v[q][r + 1]);
        out[17] = v[q][16];
#pragma unroll
        for (int r = 17; r < 31; r += 2) StoreTwo(out + r + 1, v[q][r], v[q][r + 1]);
        out[32] = v[q][31];
      } else if constexpr (Dst::kShared) {
        const int x = i * kBatch + c, padded = Pad(x);
#pragma unroll
        for (int r = 0; r < kR; ++r) buf[PadStep<kNs * kBatch>(x, padded, r)] = v[q][r];
      } else {
#pragma unroll
        for (int r = 0; r < kR; ++r) {
          if (r < kR / 2 || !half_out) dst.store(i + r * kNs, c, v[q][r]);
        }
      }
    }
  }
  if constexpr (Dst::kShared) Group::Sync();
}

// Passes kDone..kStop (bits) of kCount FFTs of 2^kLogN points (layout as StockhamPass), unnormalized: radix
// 2^kMaxBits while that many bits remain, then the rest. The first pass reads from src, the last writes to dst. Every
// thread of the Group calls it; points in buf must be stored and synchronized before.
template <int kLogN, int kBatch, int kCount, int kThreads, bool kInverse, int kDone = 0, int kStop = kLogN,
          int kMaxBits = 4, class Group = BlockGroup, class Src = InShared, class Dst = InShared>
__device__ __forceinline__ void BlockFft(float2* buf, const Src& src = {}, const Dst& dst = {}) {
  constexpr int kBits = kStop - kDone >= kMaxBits ? kMaxBits : kStop - kDone;
  if constexpr (kDone + kBits == kStop) {
    StockhamPass<kLogN, kBits, kDone, kBatch, kCount, kThreads, kInverse, Group>(buf, src, dst);
  } else {
    StockhamPass<kLogN, kBits, kDone, kBatch, kCount, kThreads, kInverse, Group>(buf, src, InShared{});
    BlockFft<kLogN, kBatch, kCount, kThreads, kInverse, kDone + kBits, kStop, kMaxBits, Group>(buf, InShared{}, dst);
  }
}

// Z = FFT(a + i b) of two real rows and S = FFT(ka + i kb) of their filters. The spectrum of (a * ka) + i (b * kb) is
// W = A Ka + i B Kb with A, B the rows' spectra and Ka, Kb the filters' (Hermitian, as they are real):
// W(f) = P Z(f) + Q conj(Z(-f)) and W(-f) = conj(P) Z(-f) + conj(Q) conj(Z(f)), where P = (Ka + Kb) / 2 and
// Q = (Ka - Kb) / 2 at f. d = (Da, Db), the channels' D: as u * k + D u = u * (k + D delta), D adds to Ka and Kb at
// every frequency, and y needs no second read of u.

// h P(f) and h Q(f) from S(f) and S(-f), D = d included.
__device__ __forceinline__ void UntangleFilters(float2 s1, float2 s2, float2 d, float h, float2& p, float2& q) {
  const float2 ka = make_float2(0.5f * (s1.x + s2.x) + d.x, 0.5f * (s1.y - s2.y));  // (S(f) + conj S(-f)) / 2 + Da
  const float2 kb = make_float2(0.5f * (s1.y + s2.y) + d.y, -0.5f * (s1.x - s2.x));  // (S(f) - conj S(-f)) / 2i + Db
  const float g = 0.5f * h;
  p = make_float2(g * (ka.x + kb.x), g * (ka.y + kb.y));
  q = make_float2(g * (ka.x - kb.x), g * (ka.y - kb.y));
}

// W(f) and W(-f) from Z(f), Z(-f) and the filters' P(f), Q(f): 16 multiplies and fused multiply-adds.
__device__ __forceinline__ void MultiplyUntangled(float2 z1, float2 z2, float2 p, float2 q, float2& w1, float2& w2) {
  w1 = make_float2(fmaf(q.y, z2.y, fmaf(q.x, z2.x, fmaf(-p.y, z1.y, p.x * z1.x))),
                   fmaf(-q.x, z2.y, fmaf(q.y, z2.x, fmaf(p.y, z1.x, p.x * z1.y))));
  w2 = make_float2(fmaf(-q.y, z1.y, fmaf(q.x, z1.x, fmaf(p.y, z2.y, p.x * z2.x))),
                   fmaf(-q.y, z1.x, fmaf(-q.x, z1.y, fmaf(-p.y, z2.x, p.x * z2.y))));
}

// The filters' spectrum as the fused kernels keep it (the spectrum kernel, a plan), untangled once so that each
// product needs only MultiplyUntangled (18 instructions at a pair of frequencies, 36 from S): for 0 < f < n / 2,
// h P(f) at f and h Q(f) at n - f; at f = 0 and n / 2, where P and Q are real, (h P(f), h Q(f)) at f. h = 1 / n,
// the inverse FFT's scale.
struct UntangledSpectrum {
  const float2* t;  // one pair of channels' n values
  float2 d;         // h (Da + Db) / 2, h (Da - Db) / 2: D's part of P and Q

  // P and Q at the lower frequency f of a pair {f, g = -f} from the values at their slots, a at f's and b at g's
  // (self: f = g, 0 or n / 2, where a holds both).
  __device__ __forceinline__ void Untangled(float2 a, float2 b, bool self, float2& p, float2& q) const {
    if (self) {
      p = make_float2(a.x + d.x, 0.f), q = make_float2(a.y + d.y, 0.f);
    } else {
      p = make_float2(a.x + d.x, a.y), q = make_float2(b.x + d.y, b.y);
    }
  }
};

// The D part of UntangledSpectrum for d = (Da, Db) and scale h.
__device__ __forceinline__ float2 UntangledD(float2 d, float h) {
  return make_float2(0.5f * h * (d.x + d.y), 0.5f * h * (d.x - d.y));
}

// W(f) and W(-f) from S(f) and S(-f) (the filters' FFT in the same block), times `scale`.
__device__ __forceinline__ void UntangleMultiply(float2 z1, float2 z2, float2 s1, float2 s2, float2 d, float scale,
                                                 float2& w1, float2& w2) {
  float2 p, q;
  UntangleFilters(s1, s2, d, scale, p, q);
  MultiplyUntangled(z1, z2, p, q, w1, w2);
}

// The product at the pair {f, g = -f} (f the lower, or f = g: self): W(f) into w1, W(g) into w2. s1, s2: the filters'
// values at f and g, from the block's own FFT (kInline: S, untangled here with D = d, times `scale`) or `spectrum`'s
// slots (loaded by the caller, ahead of the arithmetic that hides their latency).
template <bool kInline>
__device__ __forceinline__ void PairProduct(float2 z1, float2 z2, float2 s1, float2 s2, bool self,
                                            const UntangledSpectrum& spectrum, float2 d, float scale, float2& w1,
                                            float2& w2) {
  float2 p, q;
  if constexpr (kInline) {
    UntangleFilters(s1, s2, d, scale, p, q);
  } else {
    spectrum.Untangled(s1, s2, self, p, q);
  }
  MultiplyUntangled(z1, z2, p, q, w1, w2);
}

// The products at the frequencies of two butterflies' outputs zp and zq (a last forward pass of radix R = 2^kBits at
// Ns, p + Ns r and its partner's), then their inverse DFTs (an inverse first pass at Ns = 1), into wp and wq. Where
// the butterflies are partners (`partners`: zp[r] at -(zq[R - 1 - r])'s frequency), zp[r] is the lower of its pair
// while r < R / 2; otherwise (p = 0) each pairs within itself, as a whole transform's first butterflies do: zp[r] at
// Ns r with Ns (R - r), zq[r] at Ns / 2 + Ns r with Ns / 2 + Ns (R - 1 - r). fp, fq: the filters' values there (S
// with kInline, else the spectrum's slots; PairProduct).
// at_half() runs before the first product that takes fp[r >= R / 2] or fq[o < R / 2], for a caller that fills those
// late.
struct Nothing {
  __device__ __forceinline__ void operator()() const {}
};
template <int kBits, bool kInline, class H = Nothing>
__device__ __forceinline__ void ButterflyProducts(const float2 (&zp)[1 << kBits], const float2 (&zq)[1 << kBits],
                                                  const float2 (&fp)[1 << kBits], const float2 (&fq)[1 << kBits],
                                                  bool partners, const UntangledSpectrum& spectrum, float2 d,
                                                  float scale, float2 (&wp)[1 << kBits], float2 (&wq)[1 << kBits],
                                                  const H& at_half = {}) {
  constexpr int kR = 1 << kBits;
  if (partners) {
#pragma unroll
    for (int r = 0; r < kR; ++r) {
      const int o = kR - 1 - r;
      if (r == kR / 2) at_half();
      if (r < kR / 2) {
        PairProduct<kInline>(zp[r], zq[o], fp[r], fq[o], false, spectrum, d, scale, wp[r], wq[o]);
      } else {
        PairProduct<kInline>(zq[o], zp[r], fq[o], fp[r], false, spectrum, d, scale, wq[o], wp[r]);
      }
    }
  } else {
    at_half();
#pragma unroll
    for (int r = 0; r <= kR / 2; ++r) {
      const int n = (kR - r) % kR;
      float2 w2;
      PairProduct<kInline>(zp[r], zp[n], fp[r], fp[n], n == r, spectrum, d, scale, wp[r], w2);
      if (n != r) wp[n] = w2;
    }
#pragma unroll
    for (int r = 0; r < kR / 2; ++r) {
      const int o = kR - 1 - r;
      PairProduct<kInline>(zq[r], zq[o], fq[r], fq[o], false, spectrum, d, scale, wq[r], wq[o]);
    }
  }
  Dft<kBits, true>(wp);
  Dft<kBits, true>(wq);
}

// An item's butterflies in a middle pass, read from shared memory: for each source s (u's pair, then the filters'),
// v[2 s] the points p + Ns r of `from_p` and v[2 s + 1] the points partner + Ns r of `from_partner` (layout as
// StockhamPass's, kBatch transforms).
template <int kBits, int kNs, int kBatch, int kSources>
__device__ __forceinline__ void LoadItem(float2 (&v)[2 * kSources][1 << kBits], const float2* from_p,
                                         const float2* from_partner, int p, int partner) {
#pragma unroll
  for (int s = 0; s < kSources; ++s) {
#pragma unroll
    for (int r = 0; r < (1 << kBits); ++r) {
      v[2 * s][r] = from_p[Pad((p + r * kNs) * kBatch + s)];
      v[2 * s + 1][r] = from_partner[Pad((partner + r * kNs) * kBatch + s)];
    }
  }
}

// An item's work in a middle pass before its products: the forward FFT's last pass (radix R = 2^kBits, twiddle angle
// theta times p, or times partner for the partner's butterflies) on each of its butterflies v.
template <int kBits, int kVectors>
__device__ __forceinline__ void ItemForward(float2 (&v)[kVectors][1 << kBits], float theta, int p, int partner) {
#pragma unroll
  for (int s = 0; s < kVectors; ++s) {
    Twiddle<kBits, false>(v[s], theta * (s % 2 ? partner : p));
    Dft<kBits, false>(v[s]);
  }
}

// The forward FFT's last pass (radix R = 2^kBits at Ns = N / R), the product with the filters' spectrum
// (PairProduct) and the inverse FFT's first pass (radix R at Ns = 1), in one trip through shared memory. Forward
// butterfly p gives Z(p + m Ns), m < R, and -(p + m Ns) = (Ns - p) + (R - 1 - m) Ns, so a thread takes butterflies p
// and Ns - p together (item 0: p = 0 and Ns / 2, each its own partner); the inverse butterflies j = p and j = Ns - p
// read exactly those frequencies back. u's pair is transform 0 (point i at buf[Pad(i * kBatch)]); the filters' pair
// is transform 1 (kInline, still missing this last pass) or `spectrum`.
template <int kLogN, int kBits, int kBatch, int kThreads, bool kInline>
__device__ __forceinline__ void MiddlePass(float2* buf, const UntangledSpectrum& spectrum, float2 d, float scale) {
  constexpr int kR = 1 << kBits, kN = 1 << kLogN, kNs = kN / kR, kItems = kNs / 2;
  constexpr int kPer = (kItems + kThreads - 1) / kThreads, kSources = kInline ? 2 : 1;
  float2 v[kPer][2 * kSources][kR];  // butterflies p, Ns - p of u's pair (then of the filters')
#pragma unroll
  for (int q = 0; q < kPer; ++q) {
    const int e = threadIdx.x + q * kThreads;
    if (kItems % kThreads == 0 || e < kItems) {
      LoadItem<kBits, kNs, kBatch, kSources>(v[q], buf, buf, e, e > 0 ? kNs - e : kNs / 2);
    }
  }
  // Without kInline: the spectrum's slots at item q's frequencies, loaded an item ahead (items 0 and 1 before the
  // barrier), so that an item's forward arithmetic and the previous item's product hide their latency (H100,
  // 2026-12-06: L4096's plan 0.0305 -> 0.0289 ms, B8's 0.369 -> 0.365). At radix 16 (kLateHalf; n = 2^14, one item a
  // thread) an item's 32 slots, its 32 points and its twiddles do not fit the registers together (80 bytes spilled):
  // half the slots are loaded after the item's forward arithmetic and the other half once the first half of its
  // products is done (ButterflyProducts' at_half), which left 24 bytes spilled and took B8 from 0.402 to 0.386 ms.
  constexpr bool kLateHalf = kBits >= 4;
  float2 slots[kPer][2][kR];
  const auto load_slot_half = [&](int q, bool late) {
    const int e = threadIdx.x + q * kThreads;
    if (!kInline && q < kPer && (kItems % kThreads == 0 || e < kItems)) {
      const int partner = e > 0 ? kNs - e : kNs / 2;
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        if (!kLateHalf || (r >= kR / 2) == late) slots[q][0][r] = spectrum.t[e + r * kNs];
        if (!kLateHalf || (r < kR / 2) == late) slots[q][1][r] = spectrum.t[partner + r * kNs];
      }
    }
  };
  const auto load_slots = [&](int q) { load_slot_half(q, false); };
  const auto forward = [&](int q) {
    const int e = threadIdx.x + q * kThreads;
    if (kItems % kThreads == 0 || e < kItems) {
      ItemForward<kBits>(v[q], 6.283185307179586f / kN, e, e > 0 ? kNs - e : kNs / 2);
    }
  };
  if constexpr (!kLateHalf) load_slots(0), load_slots(1);
  forward(0);  // before the barrier, as StockhamPass's first butterfly
  if constexpr (kLateHalf) load_slots(0), load_slots(1);
  __syncthreads();
#pragma unroll
  for (int q = 0; q < kPer; ++q) {
    if (q > 0) {
      load_slots(q + 1);
      forward(q);
    }
    const int e = threadIdx.x + q * kThreads;
    if (kItems % kThreads == 0 || e < kItems) {
      const int p = e, partner = e > 0 ? kNs - e : kNs / 2;
      float2 wp[kR], wq[kR];
      const float2(&fp)[kR] = kInline ? v[q][kSources == 2 ? 2 : 0] : slots[q][0];  // the filters' S, or slots
      const float2(&fq)[kR] = kInline ? v[q][kSources == 2 ? 3 : 1] : slots[q][1];
      if constexpr (kLateHalf) {
        ButterflyProducts<kBits, kInline>(v[q][0], v[q][1], fp, fq, e > 0, spectrum, d, scale, wp, wq, [&] {
          asm volatile("" ::: "memory");  // keeps the compiler from loading them with the first half
          load_slot_half(q, true);
        });
      } else {
        ButterflyProducts<kBits, kInline>(v[q][0], v[q][1], fp, fq, e > 0, spectrum, d, scale, wp, wq);
      }
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        buf[Pad((p * kR + r) * kBatch)] = wp[r];
        buf[Pad((partner * kR + r) * kBatch)] = wq[r];
      }
    }
  }
  __syncthreads();
}

// The two real rows of item `item`: channels 2p and 2p + 1 of batch row b (item = b * pairs + p), `len` samples
// each; the second is absent when the channel count is odd.
template <typename S>
struct RowPair {
  const S* src;  // [batch, channels, len], float or bfloat16
  int64_t channels, len, pairs;

  __device__ __forceinline__ const S* First(int64_t item, bool& has_second) const {
    const int64_t b = item / pairs, p = item % pairs;
    has_second = 2 * p + 1 < channels;
    return src + (b * channels + 2 * p) * len;
  }
};

// y = the real and imaginary parts of the inverse FFT, for the first L samples.
template <typename S>
struct Output {
  S* y;
  int64_t channels, seqlen, pairs;
};

// The D of pair p's channels, (D[2p], D[2p + 1]), zero where absent.
__device__ __forceinline__ float2 PairD(const float* D, int64_t channels, int64_t p) {
  if (!D) return make_float2(0.f, 0.f);
  return make_float2(D[2 * p], 2 * p + 1 < channels ? D[2 * p + 1] : 0.f);
}

// Sample t of rows a and a + len (zero past len, and the second zero where absent). The fused kernels' rows are at
// most 2^14 long: their indices and bounds in 32 bits, which the checks on every load take (64-bit ones cost 3
// instructions each in PTX).
template <typename S>
__device__ __forceinline__ float2 LoadPair(const S* a, bool has_b, int len, int t) {
  if (t >= len) return make_float2(0.f, 0.f);
  return make_float2(ToFloat(a[t]), has_b ? ToFloat(a[len + t]) : 0.f);
}

// Output i of a pair of channels (rows y and y + seqlen; the second absent where !has_b), for i < seqlen.
template <typename S>
__device__ __forceinline__ void StorePair(S* y, bool has_b, int seqlen, int i, float2 z) {
  if (i < seqlen) {
    StoreAs(y + i, z.x);
    if (has_b) StoreAs(y + seqlen + i, z.y);
  }
}

// --- n <= 2^14: one block per transform ------------------------------------------------------------------------

// The largest radix of a fused block's passes (2^bits): 32 at n = 2^14, whose 512 threads then take one butterfly each
// and whose FFTs take five trips through shared memory instead of seven (FusedConvKernel); else 16.
__host__ __device__ constexpr int LargestRadixBits(int log_n) { return log_n == kLogMaxFused ? 5 : 4; }

// Threads of a fused block: one per radix-16 butterfly, at most `most` (a thread then takes two or more, or at
// n = 2^14 one radix-32 butterfly). The
// convolution kernels take at most 512: with the registers of one block an SM, two butterflies a thread beat 1024
// threads of 64 registers (H200: B8 H768 L8192 0.452 -> 0.437 ms, its plan 0.416 -> 0.394; B1 H768 L4096 with the
// filters' FFT in the block, whose 1024 threads spilled, 49 -> 46 us; 256 threads of four there: 41 -> 67 us).
__host__ __device__ constexpr int FusedThreads(int log_n, int batch, int most = 512) {
  const int t = (batch << log_n) / 16;
  return t < 32 ? 32 : t > most ? most : t;
}
// The spectrum kernel (a forward FFT alone) keeps a thread per radix-16 butterfly (512 threads of two made B8 H768
// L8192 slower, 0.438 -> 0.442 ms), except at n = 2^14, where it takes radix-32 passes, a thread each.
constexpr int kSpectrumMostThreads = 1024;
__host__ __device__ constexpr int SpectrumThreads(int log_n) {
  return LargestRadixBits(log_n) == 5 ? (1 << log_n) / 32 : FusedThreads(log_n, 1, kSpectrumMostThreads);
}

// Blocks per SM the registers must allow: two where their shared memory fits twice (227 KiB per SM), so one
// block's loads overlap the other's transforms.
__host__ __device__ constexpr int FusedMinBlocks(int log_n, int batch, int most = 512) {
  return 2 * 8 * PaddedFloat2s(batch << log_n) <= (227 << 10) && FusedThreads(log_n, batch, most) <= 512 ? 2 : 1;
}

// SplitConvKernel's shape (below): n = 2^kLogN in 16 regions of n / 16 points (of each of kBatch = 2 transforms: u's
// pair and the filters'), a warp each. It takes n = 2^13 with the filters' FFT in the block. (With the filters'
// spectrum given, at n = 2^14, it measured the same as FusedConvKernel on an H200, 2026-12-06: B8 H768 L8192 0.407 ms
// either way; so FusedConvKernel takes that.)
constexpr int kRegions = 16, kSplitThreads = 32 * kRegions;
constexpr int kLogSplit = kLogMaxInline;
template <int kLogN>
struct Split {
  static constexpr int kLogRegion = kLogN - 4, kRegion = 1 << kLogRegion, kBatch = 2;
  static constexpr int kFloat2s = PaddedFloat2s(kBatch << kLogRegion);  // region m at buf + m * kFloat2s
  static constexpr int kMiddleBits = kLogRegion % 4;  // the regions' last forward pass, fused with the product
  static_assert(kMiddleBits > 0 && kRegion / (1 << kMiddleBits) % 64 == 0, "SplitMiddle's items per thread");
};

// A staged kernel's rows of one item (rows a and a + len, or a alone where !has_b), copied into shared memory `to` by
// cp.async, 16 bytes a copy (len * sizeof(S) a multiple of 16, a 16-byte aligned). Not waited for.
template <typename S>
__device__ __forceinline__ void StageRows(S* to, const S* a, bool has_b, int len) {
  const int bytes = (has_b ? 2 : 1) * len * static_cast<int>(sizeof(S));
  for (int o = 16 * static_cast<int>(threadIdx.x); o < bytes; o += 16 * static_cast<int>(blockDim.x)) {
    CopyToShared<16>(reinterpret_cast<char*>(to) + o, reinterpret_cast<const char*>(a) + o, true);
  }
}

// A staged kernel's items: block blockIdx.x takes items blockIdx.x, + gridDim.x, ... (the grid: the blocks that run at
// once); stage_item(item) stages an item's rows (StageRows, one commit) and item_work(item, more) transforms it, staging
// the next one (more: the block has one) once its first pass has read this one's.
template <class Stage, class Work>
__device__ __forceinline__ void ForEachStagedItem(int64_t items, const Stage& stage_item, const Work& item_work) {
  stage_item(blockIdx.x);
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    WaitCopies<0>();
    __syncthreads();  // the item's rows staged, and the last item done with the buffer
    item_work(item, item + gridDim.x < items);
  }
}

// The filters' spectrum for pairs of channels, untangled (UntangledSpectrum, D left out): spectrum[p] from
// S = FFT(k_2p + i k_2p+1). The filters fill at most half of the n points (n >= L + Lk - 1 >= 2 Lk - 1). Not kStaged:
// pair blockIdx.x; kStaged: the pairs of ForEachStagedItem, each one's rows staged after the transform's buffer.
template <int kLogN, bool kStaged, typename S>
__global__ void __launch_bounds__(SpectrumThreads(kLogN), FusedMinBlocks(kLogN, 1, SpectrumThreads(kLogN)))
    SpectrumKernel(const RowPair<S> k, float2* spectrum) {
  LS_SHARED(float2, buf);
  constexpr int kN = 1 << kLogN, kThreads = SpectrumThreads(kLogN), kMaxBits = LargestRadixBits(kLogN);
  constexpr int kFirst = kMaxBits < kLogN ? kMaxBits : kLogN;  // the first pass's bits
  using Group = std::conditional_t<kStaged, FreshBlockGroup, BlockGroup>;
  const int k_len = static_cast<int>(k.len);
  S* const stage = reinterpret_cast<S*>(buf + PaddedFloat2s(kN));
  const auto stage_item = [&](int64_t item) {
    bool has_b;
    const S* ka = k.First(item, has_b);
    StageRows(stage, ka, has_b, k_len);
    CommitCopies();
  };
  const auto item_work = [&](int64_t item, bool more) {
    bool has_b;
    const S* ka = k.First(item, has_b);
    float2* t = spectrum + item * kN;
    const auto load = LoadFrom(
        [&](int i, int) {
          if constexpr (kStaged) {
            return LoadPair<S>(stage, has_b, k_len, i);
          } else {
            return LoadPair(ka, has_b, k_len, i);
          }
        },
        true);
    BlockFft<kLogN, 1, 1, kThreads, false, 0, kFirst, kMaxBits, Group>(buf, load);
    if (kStaged && more) stage_item(item + gridDim.x);
    if constexpr (kFirst < kLogN) BlockFft<kLogN, 1, 1, kThreads, false, kFirst, kLogN, kMaxBits, Group>(buf);
    // Each pair {f, g = -f} once, f <= n / 2 the lower: h P at f and h Q at g, or both in one slot where f = g (0 and
    // n / 2). Slot by slot (each pair untangled twice, the slots selected) was a fifth of this kernel's warp samples
    // (Nsight Compute, H100, n = 2^14), in its index arithmetic and selects. Once a pair: B8 0.4125 -> 0.4117 ms (H100).
    for (int f = threadIdx.x; f <= kN / 2; f += kThreads) {
      const int g = (kN - f) & (kN - 1);
      float2 p, q;
      UntangleFilters(buf[Pad(f)], buf[Pad(g)], make_float2(0.f, 0.f), 1.f / kN, p, q);
      if (f == g) {
        t[f] = make_float2(p.x, q.x);
      } else {
        t[f] = p;
        t[g] = q;
      }
    }
  };
  if constexpr (kStaged) {
    ForEachStagedItem(k.pairs, stage_item, item_work);
  } else {
    item_work(blockIdx.x, false);
  }
}

// One (pair of channels, batch row) per block, blockIdx.x = p * batch + b so the blocks of one pair run together
// and share its spectrum in L2. kInline: the filters' FFT in the same block (transform 1), else `spectrum`. The
// forward FFT reads u from global memory, the inverse writes y there. Where n is not a power of 16, the forward
// FFT's last pass, the product and the inverse's first pass are one (MiddlePass); else the product is a pass of
// its own.
template <int kLogN, bool kInline, typename S>
__global__ void __launch_bounds__(FusedThreads(kLogN, kInline ? 2 : 1), FusedMinBlocks(kLogN, kInline ? 2 : 1))
    FusedConvKernel(const RowPair<S> u, const RowPair<S> k, const float2* spectrum, const float* D, const Output<S> out,
                    int64_t batch) {
  LS_SHARED(float2, buf);
  constexpr int kN = 1 << kLogN, kBatch = kInline ? 2 : 1, kThreads = FusedThreads(kLogN, kBatch);
  // At n = 2^14: radix-32 passes, 2 each way around a middle pass of radix 16, with 7% fewer instructions than radix 16
  // (H100, B8 H768 L8192 with its spectrum kernel also in radix 32: 0.412 -> 0.377 ms, its plan 0.365 -> 0.334).
  constexpr int kMaxBits = LargestRadixBits(kLogN);
  constexpr int kMiddleBits = kLogN > kMaxBits ? kLogN % kMaxBits : 0;
  const int64_t p = blockIdx.x / batch, b = blockIdx.x % batch;
  bool has_b;
  const S* ua = u.First(b * u.pairs + p, has_b);
  const S* ka = k.src + 2 * p * k.len;
  const int u_len = static_cast<int>(u.len), k_len = static_cast<int>(k.len), seqlen = static_cast<int>(out.seqlen);
  const auto load = LoadFrom(
      [&](int i, int c) { return LoadPair(c ? ka : ua, has_b, c ? k_len : u_len, i); },  // c = 1: the filters
      2 * u_len <= kN);  // and k.len <= u.len
  const float2 d = PairD(D, out.channels, p);
  S* y = out.y + (b * out.channels + 2 * p) * out.seqlen;
  const auto store = StoreTo([&](int i, int, float2 z) { StorePair(y, has_b, seqlen, i, z); }, 2 * seqlen <= kN);
  constexpr float kScale = 1.f / kN;
  const UntangledSpectrum s = {kInline ? nullptr : spectrum + p * kN, UntangledD(d, kScale)};
  if constexpr (kMiddleBits > 0) {
    BlockFft<kLogN, kBatch, kBatch, kThreads, false, 0, kLogN - kMiddleBits, kMaxBits>(buf, load);
    MiddlePass<kLogN, kMiddleBits, kBatch, kThreads, kInline>(buf, s, d, kScale);
    BlockFft<kLogN, kBatch, 1, kThreads, true, kMiddleBits, kLogN, kMaxBits>(buf, InShared{}, store);
  } else {
    BlockFft<kLogN, kBatch, kBatch, kThreads, false>(buf, load);
    for (int f = threadIdx.x; f <= kN / 2; f += kThreads) {
      const int g = (kN - f) & (kN - 1);
      const float2 s1 = kInline ? buf[Pad(f * kBatch + 1)] : s.t[f];
      const float2 s2 = kInline ? buf[Pad(g * kBatch + 1)] : s.t[g];
      float2 w1, w2;
      PairProduct<kInline>(buf[Pad(f * kBatch)], buf[Pad(g * kBatch)], s1, s2, f == g, s, d, kScale, w1, w2);
      buf[Pad(f * kBatch)] = w1;
      if (g != f) buf[Pad(g * kBatch)] = w2;
    }
    __syncthreads();
    BlockFft<kLogN, kBatch, 1, kThreads, true>(buf, InShared{}, store);
  }
}

// --- n = 2^13 with the filters' FFT in the block: the block's 16 warps each on a region ---------------------------
//
// A block-wide first pass splits the FFT (decimation in frequency): region m < 16 of n / 16 points holds W_n^(j m)
// times the DFT over r of x[j + (n / 16) r], and its FFT is X at f = 16 k + m. Each warp transforms its own region
// behind warp barriers only; the product pairs region m with region 16 - m (f with -f), their two warps meeting at a
// named barrier (regions 0 and 8 pair with themselves); each warp transforms its region back, and a block-wide last
// pass (decimation in time) writes y: two block barriers for the whole convolution where FusedConvKernel has twelve.
// Each region holds both pairs' transforms (u's as transform 0, the filters' as 1), as FusedConvKernel's buffer does.

// Calls f(j) for the thread's columns j of the regions, one at a time.
template <int kRegion, class F>
__device__ __forceinline__ void ForEachColumn(const F& f) {
#pragma unroll 1
  for (int j = threadIdx.x; j < kRegion; j += kSplitThreads) f(j);
}

// The first pass: for each column j and transform c, x_c[j + (n / 16) r] (r < 16, load(i, c) = x_c[i]; half_zero:
// zero for r >= 8) through a DFT over r, times W_n^(j m), into region m at j. The transforms go one after the other,
// each waiting on its own loads: loading both transforms' points first, so that the block waits once, measured 0.5%
// slower (H100, B1 H768 L4096, 2026-12-06: 0.0386 against 0.0383 ms; 9 more registers).
template <int kLogN, class F>
__device__ __forceinline__ void SplitFirstPass(float2* buf, const F& load, bool half_zero) {
  using Shape = Split<kLogN>;
  ForEachColumn<Shape::kRegion>([&](int j) {
#pragma unroll 1
    for (int c = 0; c < Shape::kBatch; ++c) {
      float2 v[kRegions];
#pragma unroll
      for (int r = 0; r < kRegions; ++r) {
        v[r] = r < kRegions / 2 || !half_zero ? load(j + r * Shape::kRegion, c) : make_float2(0.f, 0.f);
      }
      if (half_zero) {
        Dft<4, false, true>(v);
      } else {
        Dft<4, false>(v);
      }
      Twiddle<4, false>(v, 6.283185307179586f / (1 << kLogN) * j);
#pragma unroll
      for (int m = 0; m < kRegions; ++m) buf[m * Shape::kFloat2s + Pad(j * Shape::kBatch + c)] = v[m];
    }
  });
  __syncthreads();
}

// The regions' last forward pass (radix R at Ns = n / 16 / R), the product and the inverse's first pass (radix R at
// Ns = 1) in one trip through shared memory, as MiddlePass across two regions: the warps of regions a and b = 16 - a
// together (a, b < 16: 64 threads at named barrier a), or the warp of region 0 or 8 alone. Item e takes butterfly
// p = e of region a, whose frequency k = p + Ns r pairs with k' = n / 16 - 1 - k of region b (f = 16 k + a,
// -f = 16 k' + b): output R - 1 - r of butterfly Ns - 1 - p there. In region 0, -f is at n / 16 - k: butterflies e and
// Ns - e, as MiddlePass (e = 0 with Ns / 2, each its own partner). Every region's k < n / 32 is the lower frequency of
// its pair. The filters' spectrum: transform 1 of the regions (still missing this pass; D = d and `scale` applied here).
// kInLoop: called in a loop over items (FreshThreadIndex).
template <int kLogN, bool kInLoop>
__device__ __forceinline__ void SplitMiddle(float2* buf, float2 d, float scale) {
  using Shape = Split<kLogN>;
  constexpr int kBits = Shape::kMiddleBits, kR = 1 << kBits, kNs = Shape::kRegion / kR, kPer = kNs / 64;
  constexpr int kBatch = Shape::kBatch, kSources = kBatch;  // kPer items a thread, whether one warp or two
  const int thread = kInLoop ? FreshThreadIndex() : threadIdx.x, warp = thread / 32, lane = thread % 32;
  const int a = warp <= kRegions / 2 ? warp : kRegions - warp, b = (kRegions - a) % kRegions;
  const bool two = a != b;
  const int rank = warp == a ? lane : 32 + lane, threads = two ? 64 : 32;
  const auto sync = [&] {
    if (two) {
      NamedSync(a, 64);  // ids 1 to 7
    } else {
      __syncwarp();
    }
  };
  float2* ra = buf + a * Shape::kFloat2s;
  float2* rb = buf + b * Shape::kFloat2s;
  const auto partner_of = [&](int e) { return a != 0 ? kNs - 1 - e : e > 0 ? kNs - e : kNs / 2; };
  sync();  // both regions' earlier passes done
  float2 v[kPer][2 * kSources][kR];  // butterflies p (region a), partner (region b) of u's pair, then the filters'
#pragma unroll
  for (int q = 0; q < kPer; ++q) {
    const int e = rank + q * threads;
    LoadItem<kBits, kNs, kBatch, kSources>(v[q], ra, rb, e, partner_of(e));
  }
  const auto forward = [&](int q) {
    const int e = rank + q * threads;
    ItemForward<kBits>(v[q], 6.283185307179586f / Shape::kRegion, e, partner_of(e));
  };
  forward(0);  // before the barrier, as StockhamPass's first butterfly
  sync();
#pragma unroll
  for (int q = 0; q < kPer; ++q) {
    if (q > 0) forward(q);
    const int e = rank + q * threads, partner = partner_of(e);
    float2 wp[kR], wq[kR];
    ButterflyProducts<kBits, true>(v[q][0], v[q][1], v[q][2], v[q][3], a != 0 || e > 0, UntangledSpectrum{}, d, scale,
                                   wp, wq);  // the filters' S inline: no spectrum
#pragma unroll
    for (int r = 0; r < kR; ++r) {
      ra[Pad((e * kR + r) * kBatch)] = wp[r];
      rb[Pad((partner * kR + r) * kBatch)] = wq[r];
    }
  }
  sync();
}

// The last pass: for each column j, region m's point j (u's transform) times W_n^(-j m), through an inverse DFT over
// m, gives y at j + (n / 16) r (store(i, value); half_out: r < 8 only, the outputs past n / 2 not wanted).
template <int kLogN, class F>
__device__ __forceinline__ void SplitLastPass(const float2* buf, const F& store, bool half_out) {
  using Shape = Split<kLogN>;
  ForEachColumn<Shape::kRegion>([&](int j) {
    float2 v[kRegions];
#pragma unroll
    for (int m = 0; m < kRegions; ++m) v[m] = buf[m * Shape::kFloat2s + Pad(j * Shape::kBatch)];
    Twiddle<4, true>(v, 6.283185307179586f / (1 << kLogN) * j);
    if (half_out) {
      Dft<4, true, false, true>(v);
#pragma unroll
      for (int r = 0; r < kRegions / 2; ++r) store(j + r * Shape::kRegion, v[r]);
    } else {
      Dft<4, true>(v);
#pragma unroll
      for (int r = 0; r < kRegions; ++r) store(j + r * Shape::kRegion, v[r]);
    }
  });
}

// FusedConvKernel's work split among the warps, with the filters' FFT in the block (one batch row). Not kStaged: item
// (pair of channels p, batch row b) = blockIdx.x = p * batch + b. kStaged: block blockIdx.x takes items blockIdx.x,
// + gridDim.x, ..., the rows of its next item (u's, then the filters') copied into shared memory after the transforms'
// buffer while it transforms this one, so that its first pass reads them there instead of waiting on device memory
// (the grid: the blocks that run at once). `spectrum` is unused: the parameters are FusedConvKernel's, for LaunchFused's
// callers.
template <int kLogN, bool kStaged, typename S>
__global__ void __launch_bounds__(kSplitThreads, 1)
    SplitConvKernel(const RowPair<S> u, const RowPair<S> k, const float2*, const float* D, const Output<S> out,
                    int64_t batch) {
  using Shape = Split<kLogN>;
  LS_SHARED(float2, buf);
  constexpr int kN = 1 << kLogN, kBatch = Shape::kBatch, kLogRegion = Shape::kLogRegion;
  constexpr float kScale = 1.f / kN;
  const int u_len = static_cast<int>(u.len), k_len = static_cast<int>(k.len), seqlen = static_cast<int>(out.seqlen);
  S* const stage_u = reinterpret_cast<S*>(buf + Shape::kFloat2s * kRegions);
  S* const stage_k = stage_u + 2 * u_len;
  const auto stage_item = [&](int64_t item) {
    bool has_b;
    const S* ua = u.First(item % batch * u.pairs + item / batch, has_b);
    StageRows(stage_u, ua, has_b, u_len);
    StageRows(stage_k, k.src + 2 * (item / batch) * k.len, has_b, k_len);
    CommitCopies();
  };
  const auto item_work = [&](int64_t item, bool more) {
    const int64_t p = item / batch, b = item % batch;
    bool has_b;
    const S* ua = u.First(b * u.pairs + p, has_b);
    const S* ka = k.src + 2 * p * k.len;
    S* y = out.y + (b * out.channels + 2 * p) * out.seqlen;
    const float2 d = PairD(D, out.channels, p);
    SplitFirstPass<kLogN>(
        buf,
        [&](int i, int c) {  // c = 1: the filters
          if constexpr (kStaged) {
            return LoadPair<S>(c ? stage_k : stage_u, has_b, c ? k_len : u_len, i);
          } else {
            return LoadPair(c ? ka : ua, has_b, c ? k_len : u_len, i);
          }
        },
        2 * u_len <= kN);  // and k.len <= u.len
    if (kStaged && more) stage_item(item + gridDim.x);
    float2* region = buf + threadIdx.x / 32 * Shape::kFloat2s;
    BlockFft<kLogRegion, kBatch, kBatch, 32, false, 0, kLogRegion - Shape::kMiddleBits, 4, WarpGroup>(region);
    SplitMiddle<kLogN, kStaged>(buf, d, kScale);
    BlockFft<kLogRegion, kBatch, 1, 32, true, Shape::kMiddleBits, kLogRegion, 4, WarpGroup>(region);
    __syncthreads();
    SplitLastPass<kLogN>(buf, [&](int i, float2 z) { StorePair(y, has_b, seqlen, i, z); }, 2 * seqlen <= kN);
  };
  if constexpr (kStaged) {
    ForEachStagedItem(batch * u.pairs, stage_item, item_work);
  } else {
    item_work(blockIdx.x, false);
  }
}

// --- n > 2^14: the four-step FFT ---------------------------------------------------------------------------------

// Shared memory of a four-step row kernel: 8192 points and their padding.
constexpr size_t kPassShared = sizeof(float2) * PaddedFloat2s(8192);

// W_n^m, or its conjugate, for m < n <= 2^24: the angle 2 pi m / n taken into [-pi, pi), where the special-
// function unit's error bound (4e-7) holds; m is exact in float.
__device__ __forceinline__ float2 FourStepTwiddle(int m, int log_n, bool inverse) {
  if (2 * m >= (1 << log_n)) m -= 1 << log_n;
  float s, c;
  __sincosf(static_cast<float>(m) * (6.283185307179586f * __int_as_float((127 - log_n) << 23)), &s, &c);
  return make_float2(c, inverse ? s : -s);
}

// The offset of sample (j1, j2) = j1 n2 + j2 in a row of n <= 2^24 samples.
__device__ __forceinline__ int FourStepIndex(int j1, int j2) { return (j1 << kLogRow) + j2; }

// A column pass's block: 2^kLogPoints points (8192, or 16384 for n1 >= 2048, ColumnLogPoints), 16 a thread,
// two blocks per SM at 8192.
__host__ __device__ constexpr int ColumnThreads(int log_points) { return (1 << log_points) / 16; }
__host__ __device__ constexpr int ColumnMinBlocks(int log_points) { return log_points <= 13 ? 2 : 1; }

// Column pass, forward: for kTC columns j2 of the items' rows (as an n1 x n2 matrix), FFTs of length n1 along
// the columns, times W_n^(j2 k1), into T[item - item0][k1][j2]. blockIdx.x = (item - item0) * tiles + tile.
template <int kLogN1, int kLogPoints, typename S>
__global__ void __launch_bounds__(ColumnThreads(kLogPoints), ColumnMinBlocks(kLogPoints))
    ColumnForwardKernel(const RowPair<S> rows, float2* T, int64_t item0, int log_n) {
  LS_SHARED(float2, buf);
  constexpr int kN1 = 1 << kLogN1, kTC = (1 << kLogPoints) / kN1, kTiles = (1 << kLogRow) / kTC;
  const int64_t local = blockIdx.x / kTiles;
  const int j2_0 = (blockIdx.x % kTiles) * kTC;
  const int len = static_cast<int>(rows.len < (1 << log_n) ? rows.len : (1 << log_n));
  bool has_b;
  const S* a = rows.First(item0 + local, has_b);
  const S* b = has_b ? a + rows.len : nullptr;
  float2* out = T + (local << log_n) + j2_0;
  BlockFft<kLogN1, kTC, kTC, ColumnThreads(kLogPoints), false>(
      buf,
      LoadFrom([&](int j1, int c) {
        const int t = FourStepIndex(j1, j2_0 + c);
        return t < len ? make_float2(ToFloat(a[t]), b ? ToFloat(b[t]) : 0.f) : make_float2(0.f, 0.f);
      }, 2 * len <= (1 << log_n)),  // rows j1 >= n1 / 2 are zero
      StoreTo([&](int k1, int c, float2 v) {
        out[FourStepIndex(k1, c)] = Mul(v, FourStepTwiddle((j2_0 + c) * k1, log_n, false));
      }));
}

// Row pass for the filters: rows 2q and 2q + 1 of each item, forward FFTs in place: T becomes the spectrum in
// the four-step's order. blockIdx.x = (item - item0) * n1 / 2 + q.
__global__ void __launch_bounds__(kPassThreads, 2) RowSpectrumKernel(float2* T, int log_n, int log_n1) {
  LS_SHARED(float2, buf);
  constexpr int kN2 = 1 << kLogRow;
  const int64_t half = int64_t{1} << (log_n1 - 1);
  const int64_t local = blockIdx.x / half, q = blockIdx.x % half;
  float2* t = T + (local << log_n) + 2 * q * kN2;  // rows 2q, 2q + 1: contiguous
  BlockFft<kLogRow, 2, 2, kPassThreads, false>(buf, LoadFrom([&](int i, int c) { return t[c * kN2 + i]; }, false),
                                               StoreTo([&](int i, int c, float2 v) { t[c * kN2 + i] = v; }));
}

// Row pass for the inputs: rows r0 = q, r1 = n1 - q (q = 0: rows 0 and n1 / 2, each its own partner) of each
// item: forward FFTs, UntangleMultiply with the pair's spectrum and D (scaled by 1 / n), inverse FFTs, times
// W_n^(-j2 k1). blockIdx.x = (item - item0) * n1 / 2 + q. The spectrum holds items spectrum_item0 on, `pairs` of
// them, one per pair of channels: a whole spectrum (0) or a chunk's own (item0).
__global__ void __launch_bounds__(kPassThreads, 2)
    RowConvKernel(float2* T, const float2* spectrum, const float* D, int64_t channels, int64_t item0,
                  int64_t spectrum_item0, int64_t pairs, int log_n, int log_n1) {
  LS_SHARED(float2, buf);
  constexpr int kN2 = 1 << kLogRow;
  const int64_t n1 = int64_t{1} << log_n1, half = n1 / 2;
  const int64_t local = blockIdx.x / half, q = blockIdx.x % half;
  const int64_t r0 = q, r1 = q == 0 ? half : n1 - q;  // rows of slots 0 and 1
  float2* t = T + (local << log_n);
  const float2* s = spectrum + (((item0 + local - spectrum_item0) % pairs) << log_n);
  const float2 d = PairD(D, channels, (item0 + local) % pairs);
  BlockFft<kLogRow, 2, 2, kPassThreads, false>(
      buf, LoadFrom([&](int k2, int slot) { return t[(slot ? r1 : r0) * kN2 + k2]; }, false));
  // Each unordered pair {f, -f} once: q > 0: (r0, k2) with (r1, n2 - 1 - k2); q = 0: row 0's k2 <= n2 / 2 with
  // (0, -k2), row n1 / 2's k2 < n2 / 2 with (n1 / 2, n2 - 1 - k2).
  const float scale = __int_as_float((127 - log_n) << 23);
  const int pairs_here = q > 0 ? kN2 : kN2 + 1;
  for (int e = threadIdx.x; e < pairs_here; e += kPassThreads) {
    int slot1, k1, slot2, k2;
    if (q > 0) {
      slot1 = 0, k1 = e, slot2 = 1, k2 = kN2 - 1 - e;
    } else if (e <= kN2 / 2) {
      slot1 = 0, k1 = e, slot2 = 0, k2 = (kN2 - e) & (kN2 - 1);
    } else {
      const int i = e - (kN2 / 2 + 1);
      slot1 = 1, k1 = i, slot2 = 1, k2 = kN2 - 1 - i;
    }
    float2 w1, w2;
    UntangleMultiply(buf[Pad(k1 * 2 + slot1)], buf[Pad(k2 * 2 + slot2)], s[(slot1 ? r1 : r0) * kN2 + k1],
                     s[(slot2 ? r1 : r0) * kN2 + k2], d, scale, w1, w2);
    buf[Pad(k1 * 2 + slot1)] = w1;
    if (k1 != k2 || slot1 != slot2) buf[Pad(k2 * 2 + slot2)] = w2;
  }
  __syncthreads();
  BlockFft<kLogRow, 2, 2, kPassThreads, true>(buf, InShared{}, StoreTo([&](int j2, int slot, float2 v) {
    const int row = static_cast<int>(slot ? r1 : r0);
    t[row * kN2 + j2] = Mul(v, FourStepTwiddle(j2 * row, log_n, true));
  }));
}

// Column pass, inverse: FFTs of length n1 along kTC columns of T, then y = real / imaginary part for the samples
// below L (D is in the row pass's product).
template <int kLogN1, int kLogPoints, typename S>
__global__ void __launch_bounds__(ColumnThreads(kLogPoints), ColumnMinBlocks(kLogPoints))
    ColumnInverseKernel(const float2* T, const Output<S> out, int64_t item0, int log_n) {
  LS_SHARED(float2, buf);
  constexpr int kN1 = 1 << kLogN1, kTC = (1 << kLogPoints) / kN1, kTiles = (1 << kLogRow) / kTC;
  const int64_t local = blockIdx.x / kTiles;
  const int j2_0 = (blockIdx.x % kTiles) * kTC;
  const float2* t = T + (local << log_n) + j2_0;
  const int64_t item = item0 + local, b = item / out.pairs, p = item % out.pairs;
  const bool has_b = 2 * p + 1 < out.channels;
  const int L = static_cast<int>(out.seqlen < (1 << log_n) ? out.seqlen : (1 << log_n));
  S* ya = out.y + (b * out.channels + 2 * p) * out.seqlen;
  S* yb = ya + out.seqlen;
  BlockFft<kLogN1, kTC, kTC, ColumnThreads(kLogPoints), true>(
      buf, LoadFrom([&](int k1, int c) { return t[FourStepIndex(k1, c)]; }, false),
      StoreTo([&](int j1, int c, float2 z) {
        const int i = FourStepIndex(j1, j2_0 + c);
        if (i < L) {
          StoreAs(ya + i, z.x);
          if (has_b) StoreAs(yb + i, z.y);
        }
      }));
}

// Launch shapes, shared by FftConv and the emulated test (fft_conv_emulated.cc). The shared memory of a block of
// `points` points, padding included (a fused block: batch << log_n; a column block: 2^log_points).
__host__ __device__ constexpr size_t BlockShared(int points) { return sizeof(float2) * PaddedFloat2s(points); }
// The four-step passes' blocks for `count` items: a column pass's (tiles of 2^log_points points), a row pass's (n1 / 2
// row pairs an item).
constexpr int64_t ColumnBlocks(int64_t count, int log_n1, int log_points) {
  return count << (log_n1 + kLogRow - log_points);
}
constexpr int64_t RowBlocks(int64_t count, int log_n1) { return count << (log_n1 - 1); }

// --- host side ---------------------------------------------------------------------------------------------------

// Calls f(std::integral_constant<int, v>) for the v in [kLo, kHi] equal to `value` (also the emulated tests' launches).
template <int kLo, int kHi, class F>
void Dispatch(int value, const F& f) {
  if constexpr (kLo <= kHi) {
    if (value == kLo) {
      f(std::integral_constant<int, kLo>());
    } else {
      Dispatch<kLo + 1, kHi>(value, f);
    }
  }
}

// A kernel as a type, for a launcher that takes any of them.
template <auto kKernel>
struct KernelOf {
  static constexpr auto kernel = kKernel;
};

// The bytes of an item's rows that a fused launch at n = 2^log_n keeps beside its transforms, staged: the split
// kernel's (inline_filters at kLogSplit; SplitConvKernel) rows of u and of the filters, u_len and k_len samples of
// `sample` bytes. 0 where it is not staged: every other fused kernel, a row that is not a whole number of 16-byte
// copies, or a block that would pass `shared_limit` bytes. (The fused kernels staged u's rows the same way, in a loop
// over items, and were slower on an H100, 2026-12-06: B8 H768 L8192 0.368 -> 0.419 ms, B1 H768 L4096's plan 0.029 ->
// 0.039: with 200 KB of shared memory a block, the SM's L1 was left too small for the spectrum's loads in flight, the
// likely cause; unstaged with the smallest L1, B8 took 8% longer.)
constexpr size_t FusedStageBytes(int log_n, bool inline_filters, int64_t u_len, int64_t k_len, size_t sample,
                                 size_t shared_limit) {
  const size_t stage = 2 * sample * (u_len + k_len);
  const bool whole = u_len * sample % 16 == 0 && k_len * sample % 16 == 0;
  const bool split = inline_filters && log_n == kLogSplit;
  return split && whole && BlockShared(2 << log_n) + stage <= shared_limit ? stage : 0;
}

// The fused convolution kernel for n = 2^kLogN, with the filters' FFT in the block (inline_filters, which FftConv
// sets only up to kLogMaxInline) or their spectrum given: calls launch(KernelOf<kernel>(), threads per block, shared
// bytes, staged), the split kernel staged where stage_bytes (FusedStageBytes) > 0. FftConv's launch and the emulated
// test's, so that the test runs the kernels FftConv picks.
template <int kLogN, typename S, class F>
void LaunchFused(bool inline_filters, size_t stage_bytes, const F& launch) {
  if (inline_filters) {
    if constexpr (kLogN == kLogSplit) {
      if (stage_bytes > 0) {
        return launch(KernelOf<SplitConvKernel<kLogN, true, S>>(), kSplitThreads, BlockShared(2 << kLogN) + stage_bytes,
                      true);
      }
      return launch(KernelOf<SplitConvKernel<kLogN, false, S>>(), kSplitThreads, BlockShared(2 << kLogN), false);
    } else if constexpr (kLogN <= kLogMaxInline) {
      return launch(KernelOf<FusedConvKernel<kLogN, true, S>>(), FusedThreads(kLogN, 2), BlockShared(2 << kLogN),
                    false);
    }
  }
  launch(KernelOf<FusedConvKernel<kLogN, false, S>>(), FusedThreads(kLogN, 1), BlockShared(1 << kLogN), false);
}

// The bytes of a pair's filter rows (k_len samples of `sample` bytes) that the spectrum kernel at n = 2^log_n keeps
// beside its transform, staged: only at n = 2^14 (B8 H768 L8192's filters), and 0 where a row is not a whole number of
// 16-byte copies or the block would pass `shared_limit` bytes.
constexpr size_t SpectrumStageBytes(int log_n, int64_t k_len, size_t sample, size_t shared_limit) {
  const size_t stage = 2 * sample * k_len;
  const bool fits = k_len * sample % 16 == 0 && BlockShared(1 << log_n) + stage <= shared_limit;
  return log_n == kLogMaxFused && fits ? stage : 0;
}

// The spectrum kernel for n = 2^kLogN, staged where stage_bytes (SpectrumStageBytes) > 0: calls
// launch(KernelOf<kernel>(), threads per block, shared bytes, staged). Spectrum's launch and the emulated test's.
template <int kLogN, typename S, class F>
void LaunchSpectrum(size_t stage_bytes, const F& launch) {
  if constexpr (kLogN == kLogMaxFused) {
    if (stage_bytes > 0) {
      return launch(KernelOf<SpectrumKernel<kLogN, true, S>>(), SpectrumThreads(kLogN),
                    BlockShared(1 << kLogN) + stage_bytes, true);
    }
  }
  launch(KernelOf<SpectrumKernel<kLogN, false, S>>(), SpectrumThreads(kLogN), BlockShared(1 << kLogN), false);
}

#ifndef LONGSEQ_CUDA_EMULATE

int Log2(int64_t n) {
  int l = 0;
  while ((int64_t{1} << l) < n) ++l;
  return l;
}

// Opts kKernel in to as much dynamic shared memory as the device allows a block, once (the staged split kernel's blocks
// vary with the rows' length; the attribute is a limit, and the blocks that fit an SM follow each launch's own size).
template <auto kKernel>
cudaError_t OptInShared() {
  return Once([] {
    return cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SharedMemoryOptIn());
  });
}

// Launches kKernel with `shared` bytes of dynamic shared memory.
template <auto kKernel, class... Args>
ls_status Launch(int64_t blocks, int threads, size_t shared, cudaStream_t stream, const char* what, const Args&... args) {
  if (shared > (48 << 10)) LS_CUDA_TRY(OptInShared<kKernel>(), what);
  kKernel<<<static_cast<unsigned>(blocks), threads, shared, stream>>>(args...);
  LS_CUDA_TRY(cudaGetLastError(), what);
  return LS_OK;
}

// Launches kKernel over `items` items: a block each, or where `staged`, as many blocks as run at once on the device
// (ForEachStagedItem's grid), each over its items.
template <auto kKernel, class... Args>
ls_status LaunchItems(int64_t items, bool staged, int threads, size_t shared, cudaStream_t stream, const char* what,
                      const Args&... args) {
  int64_t blocks = items;
  if (staged) {
    LS_CUDA_TRY(OptInShared<kKernel>(), what);
    int per_sm = 0;
    LS_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kKernel, threads, shared), what);
    const int64_t resident = static_cast<int64_t>(per_sm > 0 ? per_sm : 1) * Multiprocessors();
    blocks = resident < items ? resident : items;
  }
  return Launch<kKernel>(blocks, threads, shared, stream, what, args...);
}

// Whether the device allows a block of `points` in shared memory (a fused kernel's 2^log_n, or 2^(log_n + 1) with
// the filters inline; a column pass's 16384): up to 2^14 on sm_80 and sm_90, 2^13 where a block may have 99 KB
// (sm_86, sm_89).
bool BlockFits(int points) { return BlockShared(points) <= static_cast<size_t>(SharedMemoryOptIn()); }

// The points of a column pass's block (log2): 8192, or 16384 where n1 >= 2048 and the device allows such a block,
// so that a block takes at least 8 columns, 32-byte pieces of float32 rows (4 columns wrote y in 16-byte
// pieces). H200, B1 H64 L2^22 (n1 = 2048): 8.77 -> 7.27 ms.
constexpr int kLogN1WideColumns = 11;
int ColumnLogPoints(int log_n1) { return log_n1 >= kLogN1WideColumns && BlockFits(1 << 14) ? 14 : 13; }

// Calls f(std::integral_constant<int, kLogN1>(), std::integral_constant<int, kLogPoints>()) for a column pass.
template <class F>
void DispatchColumn(int log_n1, int log_points, const F& f) {
  Dispatch<kLogMinFourStep - kLogRow, kLogMaxN - kLogRow>(log_n1, [&](auto c) {
    constexpr int kLogN1 = decltype(c)::value;
    if constexpr (kLogN1 >= kLogN1WideColumns) {  // the only n1 that take 16384 points
      if (log_points == 14) return f(c, std::integral_constant<int, 14>());
    }
    f(c, std::integral_constant<int, 13>());
  });
}

// The four-step passes over items [item0, item0 + count), n = 2^log_n.
struct FourStepPasses {
  int log_n, log_n1;
  cudaStream_t stream;
  int log_column_points = ColumnLogPoints(log_n1);

  int64_t ColumnBlocks(int64_t count) const { return cuda::ColumnBlocks(count, log_n1, log_column_points); }
  int64_t RowBlocks(int64_t count) const { return cuda::RowBlocks(count, log_n1); }

  // rows' items -> T (their local index), forward along the columns.
  template <typename S>
  ls_status ColumnForward(const RowPair<S>& rows, float2* T, int64_t item0, int64_t count) const {
    ls_status status = LS_OK;
    DispatchColumn(log_n1, log_column_points, [&](auto c, auto points) {
      constexpr int kLogPoints = decltype(points)::value;
      status = Launch<ColumnForwardKernel<decltype(c)::value, kLogPoints, S>>(
          ColumnBlocks(count), ColumnThreads(kLogPoints), BlockShared(1 << kLogPoints), stream,
          "fft_conv column launch", rows, T, item0, log_n);
    });
    return status;
  }
  ls_status RowSpectrum(float2* T, int64_t count) const {
    return Launch<RowSpectrumKernel>(RowBlocks(count), kPassThreads, kPassShared, stream, "fft_conv spectrum row launch",
                  T, log_n, log_n1);
  }
  ls_status RowConv(float2* T, const float2* spectrum, const float* D, int64_t channels, int64_t item0, int64_t count,
                    int64_t spectrum_item0, int64_t pairs) const {
    return Launch<RowConvKernel>(RowBlocks(count), kPassThreads, kPassShared, stream, "fft_conv row launch", T, spectrum,
                  D, channels, item0, spectrum_item0, pairs, log_n, log_n1);
  }
  template <typename S>
  ls_status ColumnInverse(const float2* T, const Output<S>& out, int64_t item0, int64_t count) const {
    ls_status status = LS_OK;
    DispatchColumn(log_n1, log_column_points, [&](auto c, auto points) {
      constexpr int kLogPoints = decltype(points)::value;
      status = Launch<ColumnInverseKernel<decltype(c)::value, kLogPoints, S>>(
          ColumnBlocks(count), ColumnThreads(kLogPoints), BlockShared(1 << kLogPoints), stream,
          "fft_conv inverse column launch", T, out, item0, log_n);
    });
    return status;
  }
};

// Whether FFTs of 2^log_n points take the fused kernel (else the four-step); unavailable below the four-step's
// smallest size on a device whose blocks are too small for the fused one (none of sm_80 and later).
ls_status UseFused(int log_n, bool& fused) {
  fused = log_n <= kLogMaxFused && BlockFits(1 << log_n);
  if (!fused && log_n < kLogMinFourStep) {
    return ls::Fail(LS_UNAVAILABLE, "fftConv on this GPU: an FFT of 2^%d points needs %zu bytes of shared memory per "
                    "block, the device allows %d", log_n, BlockShared(1 << log_n), SharedMemoryOptIn());
  }
  return LS_OK;
}

// The filters' spectrum (`pairs` items) into `spectrum`, in the layout FftConv reads.
template <typename S>
ls_status Spectrum(const RowPair<S>& k, int log_n, float2* spectrum, cudaStream_t stream) {
  bool fused;
  if (ls_status s = UseFused(log_n, fused)) return s;
  if (!fused) {
    const FourStepPasses passes = {log_n, log_n - kLogRow, stream};
    if (ls_status s = passes.ColumnForward(k, spectrum, 0, k.pairs)) return s;
    return passes.RowSpectrum(spectrum, k.pairs);
  }
  const size_t stage_bytes = reinterpret_cast<uintptr_t>(k.src) % 16 == 0
                                 ? SpectrumStageBytes(log_n, k.len, sizeof(S), SharedMemoryOptIn()) : 0;
  ls_status status = LS_OK;
  Dispatch<1, kLogMaxFused>(log_n, [&](auto c) {
    constexpr int kLogN = decltype(c)::value;
    LaunchSpectrum<kLogN, S>(stage_bytes, [&](auto kernel, int threads, size_t shared, bool staged) {
      status = LaunchItems<decltype(kernel)::kernel>(k.pairs, staged, threads, shared, stream,
                                                     "fft_conv spectrum launch", k, spectrum);
    });
  });
  return status;
}

ls_status CheckLength(int64_t seqlen, int64_t kernel_len) {
  if (Log2(FftConvSize(seqlen, kernel_len)) > kLogMaxN) {
    return ls::Fail(LS_INVALID_ARGUMENT, "on the GPU, seqlen + kernel_len - 1 must be <= 2^%d, got %lld", kLogMaxN,
                    static_cast<long long>(seqlen + kernel_len - 1));
  }
  return LS_OK;
}

template <typename S>
ls_status FftConv(const ls_fft_conv_params& p, cudaStream_t stream) {
  const int log_n = Log2(FftConvSize(p.seqlen, p.kernel_len));
  const int64_t n = int64_t{1} << log_n, pairs = (p.channels + 1) / 2, items = p.batch * pairs;
  if (items > (int64_t{1} << 31) / (n > 8192 ? n / 8192 : 1)) {
    return ls::Fail(LS_INVALID_ARGUMENT, "fftConv on the GPU: batch * ceil(channels / 2) * n / 8192 must be below 2^31");
  }
  bool fused;
  if (ls_status s = UseFused(log_n, fused)) return s;
  const RowPair<S> u = {reinterpret_cast<const S*>(p.u), p.channels, p.seqlen, pairs};
  const RowPair<S> k = {reinterpret_cast<const S*>(p.k), p.channels, p.kernel_len, pairs};
  const Output<S> out = {reinterpret_cast<S*>(p.y), p.channels, p.seqlen, pairs};
  const float2* spectrum = reinterpret_cast<const float2*>(p.spectrum);
  DeviceScratch spectrum_scratch(stream), rows_scratch(stream);
  // The filters' spectrum up front, unless a plan gave it or the kernels below compute it as they go: in the
  // fused kernel's block (one batch row, n <= 2^13), or per chunk of the four-step (one batch row).
  const bool inline_filters = !spectrum && p.batch == 1 && log_n <= kLogMaxInline && BlockFits(2 << log_n);
  const bool per_chunk = !spectrum && p.batch == 1 && !fused;
  if (!spectrum && !inline_filters && !per_chunk) {
    if (ls_status s = spectrum_scratch.Allocate(static_cast<int64_t>(sizeof(float2)) * pairs * n)) return s;
    if (ls_status s = Spectrum(k, log_n, spectrum_scratch.get<float2>(), stream)) return s;
    spectrum = spectrum_scratch.get<float2>();
  }
  if (fused) {
    const bool aligned = reinterpret_cast<uintptr_t>(p.u) % 16 == 0 && reinterpret_cast<uintptr_t>(p.k) % 16 == 0;
    const size_t stage_bytes =
        aligned ? FusedStageBytes(log_n, inline_filters, p.seqlen, p.kernel_len, sizeof(S), SharedMemoryOptIn()) : 0;
    ls_status status = LS_OK;
    Dispatch<1, kLogMaxFused>(log_n, [&](auto c) {
      LaunchFused<decltype(c)::value, S>(inline_filters, stage_bytes, [&](auto kernel, int threads, size_t shared,
                                                                         bool staged) {
        status = LaunchItems<decltype(kernel)::kernel>(items, staged, threads, shared, stream, "fft_conv launch", u, k,
                                                       spectrum, p.D, out, p.batch);
      });
    });
    return status;
  }
  // Four-step, a chunk of items at a time (with the chunk's filters' spectrum beside it when per_chunk).
  const FourStepPasses passes = {log_n, log_n - kLogRow, stream};
  const int64_t buffers = per_chunk ? 2 : 1;
  const int64_t by_bytes = kChunkBytes / (buffers * static_cast<int64_t>(sizeof(float2)) * n);
  const int64_t by_blocks = (kMinChunkBlocks + passes.ColumnBlocks(1) - 1) / passes.ColumnBlocks(1);
  int64_t chunk = by_bytes > by_blocks ? by_bytes : by_blocks;
  chunk = chunk > items ? items : chunk;
  if (ls_status s = rows_scratch.Allocate(static_cast<int64_t>(sizeof(float2)) * n * chunk * buffers)) return s;
  float2* T = rows_scratch.get<float2>();
  float2* chunk_spectrum = T + n * chunk;
  for (int64_t item0 = 0; item0 < items; item0 += chunk) {
    const int64_t count = items - item0 < chunk ? items - item0 : chunk;
    ls_status s;
    if (per_chunk) {  // items are pairs of channels here (one batch row)
      if ((s = passes.ColumnForward(k, chunk_spectrum, item0, count)) || (s = passes.RowSpectrum(chunk_spectrum, count)) ||
          (s = passes.ColumnForward(u, T, item0, count)) ||
          (s = passes.RowConv(T, chunk_spectrum, p.D, p.channels, item0, count, item0, pairs))) {
        return s;
      }
    } else if ((s = passes.ColumnForward(u, T, item0, count)) || (s = passes.RowConv(T, spectrum, p.D, p.channels, item0, count, 0, pairs))) {
      return s;
    }
    if ((s = passes.ColumnInverse(T, out, item0, count))) return s;
  }
  return LS_OK;
}

#endif  // LONGSEQ_CUDA_EMULATE
}  // namespace
}  // namespace cuda
}  // namespace ls

#ifndef LONGSEQ_CUDA_EMULATE
extern "C" int64_t ls_fft_conv_spectrum_floats_cuda(int64_t channels, int64_t seqlen, int64_t kernel_len) {
  if (channels < 1 || seqlen < 1 || kernel_len < 1 || kernel_len > seqlen) return -1;
  const int64_t n = ls::FftConvSize(seqlen, kernel_len);
  if (ls::cuda::Log2(n) > ls::cuda::kLogMaxN) return -1;
  return (channels + 1) / 2 * n * 2;
}

extern "C" ls_status ls_fft_conv_cuda(const ls_fft_conv_params* p, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::ValidateFftConv(*p)) return s;
  if (ls_status s = ls::cuda::CheckLength(p->seqlen, p->kernel_len)) return s;
  const cudaStream_t s = ls::cuda::Stream(stream);
  return p->storage == LS_BFLOAT16 ? ls::cuda::FftConv<__nv_bfloat16>(*p, s) : ls::cuda::FftConv<float>(*p, s);
}

extern "C" ls_status ls_fft_conv_spectrum_cuda(const ls_fft_conv_spectrum_params* p, void* stream) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  if (ls_status s = ls::ValidateFftConvSpectrum(*p)) return s;
  if (ls_status s = ls::cuda::CheckLength(p->seqlen, p->kernel_len)) return s;
  using namespace ls::cuda;
  const int log_n = Log2(ls::FftConvSize(p->seqlen, p->kernel_len));
  const int64_t pairs = (p->channels + 1) / 2;
  float2* spectrum = reinterpret_cast<float2*>(p->spectrum);
  if (p->storage == LS_BFLOAT16) {
    const RowPair<__nv_bfloat16> k = {reinterpret_cast<const __nv_bfloat16*>(p->k), p->channels, p->kernel_len, pairs};
    return Spectrum(k, log_n, spectrum, Stream(stream));
  }
  const RowPair<float> k = {p->k, p->channels, p->kernel_len, pairs};
  return Spectrum(k, log_n, spectrum, Stream(stream));
}
#endif  // LONGSEQ_CUDA_EMULATE
