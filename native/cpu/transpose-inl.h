// Moving rows of a [rows, time] tensor into the kernels' [time][lane] scratch and back (Highway per-target
// header: include after foreach_target.h).
//
// The kernels put independent rows (channels) in the SIMD lanes, but the tensors are contiguous in time, so
// every chunk is transposed in and out. Done one float at a time this was a third of the selective scan's
// time (B1 D1536 L4096: 11 of 28 ms on AVX-512); here 4x4 blocks are transposed in 128-bit registers, which
// every SIMD target has, and on x86 targets with 256-bit vectors 8x8 blocks (half the loads and stores, a quarter
// fewer shuffles).

#if defined(LONGSEQ_CPU_TRANSPOSE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LONGSEQ_CPU_TRANSPOSE_INL_H_
#undef LONGSEQ_CPU_TRANSPOSE_INL_H_
#else
#define LONGSEQ_CPU_TRANSPOSE_INL_H_
#endif

#include <stdint.h>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ls {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET != HWY_SCALAR
// Transposes the 4x4 matrix whose rows are v0..v3, in place.
template <class D4, class V4 = hn::Vec<D4>>
HWY_INLINE void Transpose4x4(D4 d4, V4& v0, V4& v1, V4& v2, V4& v3) {
  const V4 a = hn::InterleaveLower(d4, v0, v1);  // v0[0] v1[0] v0[1] v1[1]
  const V4 b = hn::InterleaveLower(d4, v2, v3);  // v2[0] v3[0] v2[1] v3[1]
  const V4 c = hn::InterleaveUpper(d4, v0, v1);  // v0[2] v1[2] v0[3] v1[3]
  const V4 e = hn::InterleaveUpper(d4, v2, v3);  // v2[2] v3[2] v2[3] v3[3]
  v0 = hn::ConcatLowerLower(d4, b, a);
  v1 = hn::ConcatUpperUpper(d4, b, a);
  v2 = hn::ConcatLowerLower(d4, e, c);
  v3 = hn::ConcatUpperUpper(d4, e, c);
}
#endif

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// Transposes the 8x8 matrix whose rows are v[0..7], in place: pairs of rows interleaved within each 128-bit half,
// then pairs of pairs (64-bit elements), then the halves exchanged.
template <class D8, class V8 = hn::Vec<D8>>
HWY_INLINE void Transpose8x8(D8 d8, V8 (&v)[8]) {
  const hn::Repartition<uint64_t, D8> d64;
  V8 t[8];
  for (int k = 0; k < 4; ++k) {
    t[2 * k] = hn::InterleaveLower(d8, v[2 * k], v[2 * k + 1]);      // rows 2k, 2k+1 at steps 0, 1 | 4, 5
    t[2 * k + 1] = hn::InterleaveUpper(d8, v[2 * k], v[2 * k + 1]);  // ... at steps 2, 3 | 6, 7
  }
  V8 u[8];
  for (int k = 0; k < 2; ++k) {
    for (int m = 0; m < 2; ++m) {  // rows 4k..4k+3 at steps m * 2 + (0 | 1), and + 4 in the upper half
      const auto a = hn::BitCast(d64, t[4 * k + m]), b = hn::BitCast(d64, t[4 * k + 2 + m]);
      u[4 * k + 2 * m] = hn::BitCast(d8, hn::InterleaveLower(d64, a, b));
      u[4 * k + 2 * m + 1] = hn::BitCast(d8, hn::InterleaveUpper(d64, a, b));
    }
  }
  for (int c = 0; c < 4; ++c) {  // u[c]: rows 0..3 at steps c | c + 4; u[4 + c]: rows 4..7
    v[c] = hn::ConcatLowerLower(d8, u[4 + c], u[c]);
    v[c + 4] = hn::ConcatUpperUpper(d8, u[4 + c], u[c]);
  }
}
#endif

// buf[t * lanes + i] = rows[i * row_stride + t] for i < count, t < tc; other lanes of buf are not touched.
HWY_INLINE void RowsToLanes(const float* rows, int64_t row_stride, int64_t count, int64_t tc, float* buf,
                            int64_t lanes) {
  int64_t i = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  const hn::Full256<float> d8;
  for (; i + 8 <= count; i += 8) {
    const float* r = rows + i * row_stride;
    int64_t t = 0;
    for (; t + 8 <= tc; t += 8) {
      hn::Vec<decltype(d8)> v[8];
      for (int k = 0; k < 8; ++k) v[k] = hn::LoadU(d8, r + k * row_stride + t);
      Transpose8x8(d8, v);
      for (int k = 0; k < 8; ++k) hn::StoreU(v[k], d8, buf + (t + k) * lanes + i);
    }
    for (; t < tc; ++t) {
      for (int64_t k = 0; k < 8; ++k) buf[t * lanes + i + k] = r[k * row_stride + t];
    }
  }
#endif
#if HWY_TARGET != HWY_SCALAR
  const hn::Full128<float> d4;
  for (; i + 4 <= count; i += 4) {
    const float* r = rows + i * row_stride;
    int64_t t = 0;
    for (; t + 4 <= tc; t += 4) {
      auto v0 = hn::LoadU(d4, r + t), v1 = hn::LoadU(d4, r + row_stride + t);
      auto v2 = hn::LoadU(d4, r + 2 * row_stride + t), v3 = hn::LoadU(d4, r + 3 * row_stride + t);
      Transpose4x4(d4, v0, v1, v2, v3);
      hn::StoreU(v0, d4, buf + t * lanes + i);
      hn::StoreU(v1, d4, buf + (t + 1) * lanes + i);
      hn::StoreU(v2, d4, buf + (t + 2) * lanes + i);
      hn::StoreU(v3, d4, buf + (t + 3) * lanes + i);
    }
    for (; t < tc; ++t) {
      for (int64_t k = 0; k < 4; ++k) buf[t * lanes + i + k] = r[k * row_stride + t];
    }
  }
#endif
  for (; i < count; ++i) {
    for (int64_t t = 0; t < tc; ++t) buf[t * lanes + i] = rows[i * row_stride + t];
  }
}

// rows[i * row_stride + t] = buf[t * lanes + i] for i < count, t < tc.
HWY_INLINE void LanesToRows(const float* buf, int64_t lanes, int64_t count, int64_t tc, float* rows,
                            int64_t row_stride) {
  int64_t i = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  const hn::Full256<float> d8;
  for (; i + 8 <= count; i += 8) {
    float* r = rows + i * row_stride;
    int64_t t = 0;
    for (; t + 8 <= tc; t += 8) {
      hn::Vec<decltype(d8)> v[8];
      for (int k = 0; k < 8; ++k) v[k] = hn::LoadU(d8, buf + (t + k) * lanes + i);
      Transpose8x8(d8, v);
      for (int k = 0; k < 8; ++k) hn::StoreU(v[k], d8, r + k * row_stride + t);
    }
    for (; t < tc; ++t) {
      for (int64_t k = 0; k < 8; ++k) r[k * row_stride + t] = buf[t * lanes + i + k];
    }
  }
#endif
#if HWY_TARGET != HWY_SCALAR
  const hn::Full128<float> d4;
  for (; i + 4 <= count; i += 4) {
    float* r = rows + i * row_stride;
    int64_t t = 0;
    for (; t + 4 <= tc; t += 4) {
      auto v0 = hn::LoadU(d4, buf + t * lanes + i), v1 = hn::LoadU(d4, buf + (t + 1) * lanes + i);
      auto v2 = hn::LoadU(d4, buf + (t + 2) * lanes + i), v3 = hn::LoadU(d4, buf + (t + 3) * lanes + i);
      Transpose4x4(d4, v0, v1, v2, v3);
      hn::StoreU(v0, d4, r + t);
      hn::StoreU(v1, d4, r + row_stride + t);
      hn::StoreU(v2, d4, r + 2 * row_stride + t);
      hn::StoreU(v3, d4, r + 3 * row_stride + t);
    }
    for (; t < tc; ++t) {
      for (int64_t k = 0; k < 4; ++k) r[k * row_stride + t] = buf[t * lanes + i + k];
    }
  }
#endif
  for (; i < count; ++i) {
    for (int64_t t = 0; t < tc; ++t) rows[i * row_stride + t] = buf[t * lanes + i];
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace ls
HWY_AFTER_NAMESPACE();

#endif  // LONGSEQ_CPU_TRANSPOSE_INL_H_
