/* longseq C API: the one boundary that the Node addon, the WASM entry and the bench binary call.
 *
 * Plain C: structs of pointers, sizes and strides; status codes; no exceptions, no C++ types. Every entry
 * validates its params again (the TS layer already did) and returns a status instead of aborting. On failure
 * nothing is written to outputs or in-place state, and ls_last_error() describes the problem.
 *
 * Sizes and strides are int64_t element counts (not bytes). All tensors are float32. */
#ifndef LONGSEQ_LONGSEQ_H_
#define LONGSEQ_LONGSEQ_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define LS_API __declspec(dllexport)
#else
#define LS_API __attribute__((visibility("default")))
#endif

typedef enum ls_status {
  LS_OK = 0,
  LS_INVALID_ARGUMENT = 1, /* a size, stride or pointer is wrong: the message names it */
  LS_OUT_OF_MEMORY = 2,    /* scratch memory could not be allocated */
  LS_INTERNAL = 3          /* a bug: please report the message */
} ls_status;

/* The message of the last failed call on this thread ("" when none). Valid until the next call. */
LS_API const char* ls_last_error(void);

/* Number of hardware threads the CPU kernels can use (at least 1). */
LS_API int32_t ls_hardware_threads(void);

/* Highway's name for the SIMD target the CPU kernels run on here ("AVX3", "AVX2", "WASM", ...). */
LS_API const char* ls_simd_target(void);

/* Where the rows of a [batch, rows, length] tensor are: element (b, r, t) is at b*batch + r*row + t.
 * The innermost (time) dimension is always contiguous; rows and batches may be strided (views). */
typedef struct ls_row_strides {
  int64_t batch, row;
} ls_row_strides;

/* Mamba-1 selective scan (mamba_ssm.selective_scan_fn), per batch b, channel d, state n:
 *   dt = delta + delta_bias[d], softplus(dt) if delta_softplus
 *   h_t[n] = exp(dt * A[d,n]) * h_{t-1}[n] + dt * B_t[g,n] * u_t        (h_0 = initial_state or 0)
 *   y_t = sum_n C_t[g,n] h_t[n] + D[d] * u_t,  then y_t *= silu(z_t) if z
 * with group g = d / (dim / groups).
 *
 * Layouts (logical shapes; the ls_row_strides say where each row starts, time is contiguous):
 *   u, delta, z, y:   [batch, dim, seqlen]          (z optional)
 *   A:                [dim, dstate] contiguous
 *   B, C:             [batch, groups*dstate, seqlen]  i.e. [batch][groups][dstate][seqlen]
 *   D, delta_bias:    [dim] contiguous                (optional)
 *   initial_state, final_state: [batch, dim, dstate] contiguous (optional; may be the same buffer,
 *                     which is how the one-token step updates its state in place)
 * Optional pointers are NULL when absent. */
typedef struct ls_selective_scan_params {
  int32_t threads; /* CPU threads to use; 0 = all hardware threads */
  int64_t batch, dim, dstate, seqlen, groups;
  const float* u;
  ls_row_strides u_strides;
  const float* delta;
  ls_row_strides delta_strides;
  const float* z;
  ls_row_strides z_strides;
  const float* B;
  ls_row_strides B_strides; /* rows of [batch, groups*dstate, seqlen] */
  const float* C;
  ls_row_strides C_strides;
  const float* A;
  const float* D;
  const float* delta_bias;
  int32_t delta_softplus;
  const float* initial_state;
  float* y;
  ls_row_strides y_strides;
  float* final_state;
} ls_selective_scan_params;

LS_API ls_status ls_selective_scan_cpu(const ls_selective_scan_params* p);

/* One decode step of the selective scan (mamba_ssm selective_state_update): state [batch, dim, dstate] is
 * updated in place; x, delta, z, y: [batch, dim]; B, C: [batch, groups, dstate]; A, D, delta_bias as above.
 * All contiguous. */
typedef struct ls_selective_scan_step_params {
  int32_t threads;
  int64_t batch, dim, dstate, groups;
  float* state;
  const float* x;
  const float* delta;
  const float* z;
  const float* B;
  const float* C;
  const float* A;
  const float* D;
  const float* delta_bias;
  int32_t delta_softplus;
  float* y;
} ls_selective_scan_step_params;

LS_API ls_status ls_selective_scan_step_cpu(const ls_selective_scan_step_params* p);

#ifdef __cplusplus
}
#endif

#endif /* LONGSEQ_LONGSEQ_H_ */
