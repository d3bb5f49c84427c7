// Small dense matrix products for the chunked kernels (Highway per-target header: include after
// foreach_target.h). Sizes here are a chunk (16-64) by a head dimension (up to a few hundred): everything sits
// in L1/L2, so a register-blocked outer-product loop is enough; no packing.

#if defined(LONGSEQ_CPU_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LONGSEQ_CPU_MATMUL_INL_H_
#undef LONGSEQ_CPU_MATMUL_INL_H_
#else
#define LONGSEQ_CPU_MATMUL_INL_H_
#endif

#include <stdint.h>

#include "hwy/highway.h"
#include "cpu/simd_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Output vectors per register tile: 4 rows x kMatMulVecs vectors of accumulators. AVX-512 has 32 registers;
// the 16-register targets (AVX2, SSE4, WASM) would spill 4 x 4.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr int kMatMulVecs = 4;
#else
constexpr int kMatMulVecs = 2;
#endif

// One tile: rows [i0, i0 + MR) and vectors [j0, j0 + NV * lanes) of C.
template <int MR, int NV, class D>
HWY_INLINE void MatMulTile(D d, int64_t i0, int64_t j0, int64_t depth, const float* A, int64_t a_row,
                           int64_t a_col, float alpha, const float* B, int64_t ldb, float* C, int64_t ldc,
                           bool accumulate) {
  using V = hn::Vec<D>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  V acc[MR][NV];
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) {
      acc[r][v] = accumulate ? hn::LoadU(d, C + (i0 + r) * ldc + j0 + v * lanes) : hn::Zero(d);
    }
  }
  for (int64_t p = 0; p < depth; ++p) {
    V b[NV];
    for (int v = 0; v < NV; ++v) b[v] = hn::LoadU(d, B + p * ldb + j0 + v * lanes);
    for (int r = 0; r < MR; ++r) {
      const V a = hn::Set(d, alpha * A[(i0 + r) * a_row + p * a_col]);
      for (int v = 0; v < NV; ++v) acc[r][v] = Madd(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) hn::StoreU(acc[r][v], d, C + (i0 + r) * ldc + j0 + v * lanes);
  }
}

// C[M x N] = (accumulate ? C : 0) + alpha * A[M x depth] * B[depth x N].
// A's element (i, p) is at A[i * a_row + p * a_col] (so A may be a transposed view); B and C are row-major
// with leading dimensions ldb and ldc. N must be a multiple of the lane count (callers pad their matrices).
template <class D>
HWY_INLINE void MatMul(D d, int64_t M, int64_t N, int64_t depth, const float* A, int64_t a_row, int64_t a_col,
                       float alpha, const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t vectors = N / lanes;
  int64_t i0 = 0;
  for (; i0 + 4 <= M; i0 += 4) {
    int64_t v0 = 0;
    for (; v0 + kMatMulVecs <= vectors; v0 += kMatMulVecs) {
      MatMulTile<4, kMatMulVecs>(d, i0, v0 * lanes, depth, A, a_row, a_col, alpha, B, ldb, C, ldc, accumulate);
    }
    for (; v0 < vectors; ++v0) {
      MatMulTile<4, 1>(d, i0, v0 * lanes, depth, A, a_row, a_col, alpha, B, ldb, C, ldc, accumulate);
    }
  }
  for (; i0 < M; ++i0) {
    for (int64_t v0 = 0; v0 < vectors; ++v0) {
      MatMulTile<1, 1>(d, i0, v0 * lanes, depth, A, a_row, a_col, alpha, B, ldb, C, ldc, accumulate);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#endif  // LONGSEQ_CPU_MATMUL_INL_H_
