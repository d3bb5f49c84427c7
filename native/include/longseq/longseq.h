/* longseq C API: the one boundary that the Node addon, the WASM entry and the bench binary call.
 *
 * Plain C: structs of pointers, sizes and strides; status codes; no exceptions, no C++ types. Every entry
 * validates its params again (the TS layer already did) and returns a status instead of aborting. On failure
 * nothing is written to outputs or in-place state, and ls_last_error() describes the problem.
 *
 * Sizes and strides are int64_t element counts (not bytes). Tensors are float32, except that the CUDA selective
 * scan also takes bfloat16 storage for its large tensors (see ls_dtype). */
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
  LS_INTERNAL = 3,         /* a bug: please report the message */
  LS_CANCELLED = 4,        /* the caller's cancel flag was set; outputs are unspecified */
  LS_UNAVAILABLE = 5,      /* this build or machine cannot run it (no CUDA device, built without nvcc) */
  LS_DEVICE_ERROR = 6      /* the CUDA runtime reported an error: the message names it */
} ls_status;

/* Element types of the tensors an op stores. float32 everywhere; bfloat16 (the upper half of a float32, as
 * uint16_t) on CUDA for the selective scan's u, delta, z, B, C and y, fftConv's u, k and y, and the SSD scan's x,
 * z, B, C and y, and the delta rule's q, k, v and o, where the pointers typed float* then point at bfloat16 data.
 * The CPU kernels take float32 only. */
typedef enum ls_dtype {
  LS_FLOAT32 = 0,
  LS_BFLOAT16 = 1
} ls_dtype;

/* Cancellation. Every params struct has `cancel`: NULL, or a flag that the caller may set to non-zero, from any
 * thread, to stop the call early. The call checks it between pieces of work (tasks, chunks of the sequence)
 * and returns LS_CANCELLED, outputs unspecified. The one-token *_step calls check it only before they start, so
 * their in-place state is either fully updated or untouched. */
typedef volatile int32_t ls_cancel_flag;

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
  const ls_cancel_flag* cancel;
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
  int32_t storage; /* ls_dtype of u, delta, z, B, C and y; 0 = LS_FLOAT32 */
} ls_selective_scan_params;

LS_API ls_status ls_selective_scan_cpu(const ls_selective_scan_params* p);

/* One decode step of the selective scan (mamba_ssm selective_state_update): state [batch, dim, dstate] is
 * updated in place; x, delta, z, y: [batch, dim]; B, C: [batch, groups, dstate]; A, D, delta_bias as above.
 * All contiguous. */
typedef struct ls_selective_scan_step_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
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
  int32_t storage; /* ls_dtype of x, delta, z, B, C and y; state and the rest stay float32 */
} ls_selective_scan_step_params;

LS_API ls_status ls_selective_scan_step_cpu(const ls_selective_scan_step_params* p);

/* How deltaRule computes: the chunked WY / UT-transform form, the fused recurrence, or the faster one for the
 * shape (LS_DELTA_AUTO; the rule and its measurements are in native/cpu/delta_rule.cc). */
typedef enum ls_delta_algorithm {
  LS_DELTA_AUTO = 0,
  LS_DELTA_CHUNKED = 1,
  LS_DELTA_RECURRENT = 2
} ls_delta_algorithm;

/* (Gated) delta rule, as fla's chunk_gated_delta_rule. Per batch b and value head hv (its query/key head is
 * h = hv / (value_heads / heads)), with state S in R^{key_dim x value_dim}:
 *   S <- exp(g_t) S;  v' = beta_t (v_t - S^T k_t);  S <- S + k_t v'^T;  o_t = scale * S^T q_t
 * g absent: plain DeltaNet (g = 0). use_qk_l2norm: q and k are first divided by sqrt(sum(x^2) + 1e-6).
 *
 * Layouts, all contiguous:
 *   q, k: [batch, seqlen, heads, key_dim];  v, o: [batch, seqlen, value_heads, value_dim]
 *   beta, g: [batch, seqlen, value_heads];  initial_state, final_state: [batch, value_heads, key_dim, value_dim]
 * value_heads must be a multiple of heads (grouped value heads). final_state may alias initial_state. */
typedef struct ls_delta_rule_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
  int64_t batch, seqlen, heads, value_heads, key_dim, value_dim;
  const float* q;
  const float* k;
  const float* v;
  const float* beta;
  const float* g;
  const float* initial_state;
  float scale;
  int32_t use_qk_l2norm;
  int32_t chunk_size; /* 16, 32 or 64, for the chunked form */
  int32_t algorithm;  /* ls_delta_algorithm */
  float* o;
  float* final_state;
  int32_t storage; /* ls_dtype of q, k, v and o; beta, g and the states stay float32 */
  /* Nonzero: the CUDA backend may round the chunked form's product operands (the state and what is formed from it
   * included) to bfloat16 once each, as flash-linear-attention's kernels do, where that is faster (bfloat16 storage,
   * key_dim 113-128, Hopper; not few heads at 256 chunks or fewer, which take the mma.sync walk): the state then
   * within a few 1e-3 of the float32 recurrence instead of a few 1e-6. The CPU entries ignore it. */
  int32_t allow_bf16_products;
} ls_delta_rule_params;

LS_API ls_status ls_delta_rule_cpu(const ls_delta_rule_params* p);

/* One decode step of the delta rule for a batch of sequences: state [batch, value_heads, key_dim, value_dim]
 * is updated in place; q, k: [batch, heads, key_dim]; v, o: [batch, value_heads, value_dim];
 * beta, g: [batch, value_heads] (g optional). */
typedef struct ls_delta_rule_step_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
  int64_t batch, heads, value_heads, key_dim, value_dim;
  float* state;
  const float* q;
  const float* k;
  const float* v;
  const float* beta;
  const float* g;
  float scale;
  int32_t use_qk_l2norm;
  float* o;
  int32_t storage; /* ls_dtype of q, k, v and o; the state and the rest stay float32 */
} ls_delta_rule_step_params;

LS_API ls_status ls_delta_rule_step_cpu(const ls_delta_rule_step_params* p);

typedef enum ls_activation {
  LS_ACTIVATION_NONE = 0,
  LS_ACTIVATION_SILU = 1
} ls_activation;

/* Short causal depthwise convolution (causal_conv1d_fn):
 *   y[b,d,t] = act(bias[d] + sum_{w<W} weight[d,w] * xx[b,d,t-W+1+w]),  xx = initial_state ++ x along time,
 * final_state = the last W-1 columns of xx. x, y: [batch, dim, seqlen]; weight: [dim, width]; bias: [dim];
 * initial_state, final_state: [batch, dim, width-1] (optional; may alias). 2 <= width <= 64. */
typedef struct ls_causal_conv1d_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
  int64_t batch, dim, seqlen, width;
  const float* x;
  const float* weight;
  const float* bias;
  const float* initial_state;
  int32_t activation; /* ls_activation */
  float* y;
  float* final_state;
} ls_causal_conv1d_params;

LS_API ls_status ls_causal_conv1d_cpu(const ls_causal_conv1d_params* p);

/* One decode step (causal_conv1d_update): state [batch, dim, width-1] holds the last width-1 inputs and is
 * shifted in place; x, y: [batch, dim]. */
typedef struct ls_causal_conv1d_step_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
  int64_t batch, dim, width;
  float* state;
  const float* x;
  const float* weight;
  const float* bias;
  int32_t activation;
  float* y;
} ls_causal_conv1d_step_params;

LS_API ls_status ls_causal_conv1d_step_cpu(const ls_causal_conv1d_step_params* p);

/* How fftConv computes: FFT, direct summation, or the faster for the shape (rule in native/cpu/fft_conv.cc). */
typedef enum ls_fft_conv_algorithm {
  LS_FFT_CONV_AUTO = 0,
  LS_FFT_CONV_FFT = 1,
  LS_FFT_CONV_DIRECT = 2
} ls_fft_conv_algorithm;

/* Long causal convolution (Hyena's fftconv):
 *   y[b,h,t] = sum_{s=0}^{min(t, kernel_len-1)} k[h,s] u[b,h,t-s] + D[h] u[b,h,t]
 * u, y: [batch, channels, seqlen]; k: [channels, kernel_len], kernel_len <= seqlen; D: [channels] (optional).
 * spectrum (optional): k's spectrum from ls_fft_conv_spectrum_cpu for the same channels, seqlen and kernel_len;
 * when given, k may be NULL and the FFT path is used. */
typedef struct ls_fft_conv_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
  int64_t batch, channels, seqlen, kernel_len;
  const float* u;
  const float* k;
  const float* spectrum;
  const float* D;
  int32_t algorithm; /* ls_fft_conv_algorithm */
  float* y;
  int32_t storage; /* ls_dtype of u, k and y (D stays float32); the CPU takes LS_FLOAT32 (0) only */
} ls_fft_conv_params;

LS_API ls_status ls_fft_conv_cpu(const ls_fft_conv_params* p);

/* Floats of the spectrum ls_fft_conv_spectrum_cpu writes (about channels x (n + 2), n the FFT size, in an
 * internal layout), or -1 when the sizes are invalid or the FFT plan cannot be allocated. */
LS_API int64_t ls_fft_conv_spectrum_floats(int64_t channels, int64_t seqlen, int64_t kernel_len);

/* The kernel's spectrum, computed once for repeated ls_fft_conv_cpu calls with a fixed filter. */
typedef struct ls_fft_conv_spectrum_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
  int64_t channels, seqlen, kernel_len;
  const float* k;
  float* spectrum; /* ls_fft_conv_spectrum_floats(...) floats */
  int32_t storage; /* ls_dtype of k; the CPU takes LS_FLOAT32 (0) only */
} ls_fft_conv_spectrum_params;

LS_API ls_status ls_fft_conv_spectrum_cpu(const ls_fft_conv_spectrum_params* p);

/* How ssdScan computes: the chunked SSD algorithm, the recurrence, or the faster for the shape (the rule and its
 * numbers are in native/cpu/ssd_scan.cc). */
typedef enum ls_ssd_algorithm {
  LS_SSD_AUTO = 0,
  LS_SSD_CHUNKED = 1,
  LS_SSD_RECURRENT = 2
} ls_ssd_algorithm;

/* Mamba-2's state-space-duality scan (mamba_ssm mamba_chunk_scan_combined). Per batch b and head h (group
 * g = h / (heads / groups)), with state S in R^{head_dim x dstate}:
 *   dt' = dt + dt_bias[h], softplus(dt') if dt_softplus, clamped to [dt_min, dt_max]
 *   S_t = exp(dt'_t A[h]) S_{t-1} + dt'_t x_t B_t^T;  y_t = S_t C_t + D x_t,  then y_t *= silu(z_t) if z
 * Layouts, all contiguous: x, z, y: [batch, seqlen, heads, head_dim]; dt: [batch, seqlen, heads]; A, dt_bias: [heads];
 * B, C: [batch, seqlen, groups, dstate]; D: [heads], or [heads, head_dim] when D_per_dim;
 * initial_state, final_state: [batch, heads, head_dim, dstate] (optional; may alias). */
typedef struct ls_ssd_scan_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
  int64_t batch, seqlen, heads, head_dim, groups, dstate;
  const float* x;
  const float* dt;
  const float* A;
  const float* B;
  const float* C;
  const float* D;
  int32_t D_per_dim;
  const float* z;
  const float* dt_bias;
  int32_t dt_softplus;
  float dt_min, dt_max;
  int32_t chunk_size; /* tokens per chunk of the chunked form, 1 to 1024 */
  int32_t algorithm;  /* ls_ssd_algorithm */
  const float* initial_state;
  float* y;
  float* final_state;
  int32_t storage; /* ls_dtype of x, z, B, C and y; dt, A, D, dt_bias and the states stay float32 */
} ls_ssd_scan_params;

LS_API ls_status ls_ssd_scan_cpu(const ls_ssd_scan_params* p);

/* One decode step of ssdScan: state [batch, heads, head_dim, dstate] is updated in place; x, z, y:
 * [batch, heads, head_dim]; dt: [batch, heads]; B, C: [batch, groups, dstate]. */
typedef struct ls_ssd_scan_step_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
  int64_t batch, heads, head_dim, groups, dstate;
  float* state;
  const float* x;
  const float* dt;
  const float* A;
  const float* B;
  const float* C;
  const float* D;
  int32_t D_per_dim;
  const float* z;
  const float* dt_bias;
  int32_t dt_softplus;
  float dt_min, dt_max;
  float* y;
  int32_t storage; /* ls_dtype of x, z, B, C and y; the state and the rest stay float32 */
} ls_ssd_scan_step_params;

LS_API ls_status ls_ssd_scan_step_cpu(const ls_ssd_scan_step_params* p);

/* A linear layer (PyTorch's nn.Linear) on rows: y[r, o] = sum_i x[r, i] * weight[o, i] + bias[o].
 * x [rows, in_features], weight [out_features, in_features], bias [out_features] (optional), y [rows,
 * out_features]; all contiguous. Memory-bound for few rows (a model's decode step): the weights are read once. */
typedef struct ls_linear_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
  int64_t rows, in_features, out_features;
  const float* x;
  const float* weight;
  const float* bias;
  float* y;
} ls_linear_params;

LS_API ls_status ls_linear_cpu(const ls_linear_params* p);

/* One decode token through consecutive Mamba blocks, fused (transformers' MambaBlock, one token per sequence).
 * Each block, on the rows of the residual stream r (first `hidden`; the result goes to y):
 *   h = RMSNorm(r) * norm;  [x | z] = h in_proj^T;  x = SiLU(conv1d step of x with conv_state);
 *   [dt_in | B | C] = x x_proj^T;  dt = dt_in dt_proj^T;
 *   s = selective scan step(ssm_state, x, dt + dt_bias through softplus, A, B, C, D, z gate);
 *   r = r + s out_proj^T.
 * Sizes, the same for every block: hidden, y [batch, hidden_size]; norm [hidden_size];
 * in_proj [2 inner, hidden_size]; conv_weight [inner, conv_width], conv_bias [inner] (optional);
 * x_proj [dt_rank + 2 dstate, inner]; dt_proj [inner, dt_rank]; dt_bias, D [inner]; A [inner, dstate];
 * out_proj [hidden_size, inner]; conv_state [batch, inner, conv_width - 1] and ssm_state [batch, inner, dstate],
 * updated in place (only when the call succeeds). y may alias hidden. One call instead of six per block: in a
 * decode step the time between op calls is what the work would otherwise wait on. */
typedef struct ls_mamba_block {
  const float* norm;
  const float* in_proj;
  const float* conv_weight;
  const float* conv_bias;
  const float* x_proj;
  const float* dt_proj;
  const float* dt_bias;
  const float* A;
  const float* D;
  const float* out_proj;
  float* conv_state;
  float* ssm_state;
} ls_mamba_block;

typedef struct ls_mamba_blocks_step_params {
  int32_t threads;
  const ls_cancel_flag* cancel;
  int64_t batch, hidden_size, inner, dstate, dt_rank, conv_width;
  float eps;
  int64_t num_blocks;
  const ls_mamba_block* blocks;
  const float* hidden;
  float* y;
} ls_mamba_blocks_step_params;

LS_API ls_status ls_mamba_blocks_step_cpu(const ls_mamba_blocks_step_params* p);

/* ---- CUDA ----------------------------------------------------------------------------------------------
 * Built when CMake finds nvcc; otherwise every ls_cuda_* call returns LS_UNAVAILABLE saying so. `stream` is a
 * cudaStream_t, or NULL for the calling thread's own stream (cudaStreamPerThread). Memory is stream-ordered
 * (cudaMallocAsync): work on the same stream sees it in order; synchronize before another stream or thread
 * uses it. The op calls only enqueue work: their pointers are device pointers (except the params struct and
 * the cancel flag, which CUDA calls ignore), they check their arguments and the launch, and return; errors
 * that happen later on the device surface at the next ls_cuda_synchronize. */

typedef struct ls_cuda_device_info {
  char name[256];
  int32_t compute_major, compute_minor;
  int32_t multiprocessors;
  int64_t total_memory; /* bytes */
  int32_t runtime_version, driver_version; /* as CUDA encodes them: 1000 * major + 10 * minor */
} ls_cuda_device_info;

/* The current device, or LS_UNAVAILABLE with the reason (no driver, no device, built without CUDA). */
LS_API ls_status ls_cuda_device(ls_cuda_device_info* info);

LS_API ls_status ls_cuda_malloc(void** pointer, int64_t bytes, void* stream);
LS_API ls_status ls_cuda_free(void* pointer, void* stream);
/* Copies `bytes` between any two of host and device memory (cudaMemcpyDefault), ordered on `stream`. */
LS_API ls_status ls_cuda_copy(void* destination, const void* source, int64_t bytes, void* stream);
/* Waits for `stream`; reports the first error of the work before it. */
LS_API ls_status ls_cuda_synchronize(void* stream);

/* The selective scan and its step on the device; the same params and math as the _cpu calls (threads and
 * cancel are ignored), with `storage` LS_FLOAT32 or LS_BFLOAT16. dstate <= 64. */
LS_API ls_status ls_selective_scan_cuda(const ls_selective_scan_params* p, void* stream);
LS_API ls_status ls_selective_scan_step_cuda(const ls_selective_scan_step_params* p, void* stream);
/* The delta rule and its step, `storage` LS_FLOAT32 or LS_BFLOAT16; key_dim <= 256. Past 64 tokens with key_dim
 * <= 128 the chunked form on tensor cores (chunks of 64 whatever chunk_size says) unless `algorithm` asks for the
 * recurrence; otherwise the recurrence. */
LS_API ls_status ls_delta_rule_cuda(const ls_delta_rule_params* p, void* stream);
LS_API ls_status ls_delta_rule_step_cuda(const ls_delta_rule_step_params* p, void* stream);
/* The causal conv1d and its step (float32); the CPU entries' arguments and checks. */
LS_API ls_status ls_causal_conv1d_cuda(const ls_causal_conv1d_params* p, void* stream);
LS_API ls_status ls_causal_conv1d_step_cuda(const ls_causal_conv1d_step_params* p, void* stream);
/* fftConv on the GPU: u, k, D, y and spectrum are device pointers; `algorithm` is ignored (always the FFT) and
 * so are threads and cancel. seqlen + kernel_len - 1 <= 2^24. The spectrum (ls_fft_conv_spectrum_cuda, for
 * repeated calls with a fixed filter) has its own layout, ls_fft_conv_spectrum_floats_cuda(...) floats, and is
 * not interchangeable with the CPU's; -1 there means the sizes are invalid. */
LS_API ls_status ls_fft_conv_cuda(const ls_fft_conv_params* p, void* stream);
LS_API int64_t ls_fft_conv_spectrum_floats_cuda(int64_t channels, int64_t seqlen, int64_t kernel_len);
LS_API ls_status ls_fft_conv_spectrum_cuda(const ls_fft_conv_spectrum_params* p, void* stream);
/* Mamba-2's SSD scan and its step, `storage` LS_FLOAT32 or LS_BFLOAT16; dstate <= 256. Past 128 tokens with
 * dstate <= 128 the chunked form on tensor cores (chunks of 128 whatever chunk_size says) unless `algorithm` asks
 * for the recurrence; otherwise the recurrence. */
LS_API ls_status ls_ssd_scan_cuda(const ls_ssd_scan_params* p, void* stream);
LS_API ls_status ls_ssd_scan_step_cuda(const ls_ssd_scan_step_params* p, void* stream);

#ifdef __cplusplus
}
#endif

#endif /* LONGSEQ_LONGSEQ_H_ */
