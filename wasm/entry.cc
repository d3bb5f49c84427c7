// The WASM module's entry points: flat-argument wrappers over the C API, so the JS side never has to lay
// out a C struct in linear memory. Pointers are offsets into the module's memory, sizes are doubles
// (wasm32 pointers are 32-bit; dims travel as doubles so they arrive exact up to 2^53).
#include <stdint.h>

#include "longseq/longseq.h"

extern "C" {

// Threads every call uses (the threaded module; the single-threaded one always runs on one): 0 = all.
static int32_t g_threads = 0;

void ls_wasm_set_threads(int32_t threads) { g_threads = threads; }

int32_t ls_wasm_threads(void) { return ls_hardware_threads(); }

ls_status ls_wasm_selective_scan(double batch, double dim, double dstate, double seqlen, double groups,
                                 int delta_softplus, const float* u, const float* delta, const float* z,
                                 const float* A, const float* B, const float* C, const float* D,
                                 const float* delta_bias, const float* initial_state, float* y,
                                 float* final_state) {
  ls_selective_scan_params p = {};
  p.threads = g_threads;
  p.batch = static_cast<int64_t>(batch);
  p.dim = static_cast<int64_t>(dim);
  p.dstate = static_cast<int64_t>(dstate);
  p.seqlen = static_cast<int64_t>(seqlen);
  p.groups = static_cast<int64_t>(groups);
  const ls_row_strides bdl = {p.dim * p.seqlen, p.seqlen};
  const ls_row_strides bc = {p.groups * p.dstate * p.seqlen, p.seqlen};
  p.u = u;
  p.u_strides = bdl;
  p.delta = delta;
  p.delta_strides = bdl;
  p.z = z;
  p.z_strides = bdl;
  p.A = A;
  p.B = B;
  p.B_strides = bc;
  p.C = C;
  p.C_strides = bc;
  p.D = D;
  p.delta_bias = delta_bias;
  p.delta_softplus = delta_softplus;
  p.initial_state = initial_state;
  p.y = y;
  p.y_strides = bdl;
  p.final_state = final_state;
  return ls_selective_scan_cpu(&p);
}

ls_status ls_wasm_selective_scan_step(double batch, double dim, double dstate, double groups,
                                      int delta_softplus, float* state, const float* x, const float* delta,
                                      const float* z, const float* A, const float* B, const float* C,
                                      const float* D, const float* delta_bias, float* y) {
  ls_selective_scan_step_params p = {};
  p.threads = g_threads;
  p.batch = static_cast<int64_t>(batch);
  p.dim = static_cast<int64_t>(dim);
  p.dstate = static_cast<int64_t>(dstate);
  p.groups = static_cast<int64_t>(groups);
  p.delta_softplus = delta_softplus;
  p.state = state;
  p.x = x;
  p.delta = delta;
  p.z = z;
  p.A = A;
  p.B = B;
  p.C = C;
  p.D = D;
  p.delta_bias = delta_bias;
  p.y = y;
  return ls_selective_scan_step_cpu(&p);
}

ls_status ls_wasm_delta_rule(double batch, double seqlen, double heads, double value_heads, double key_dim,
                             double value_dim, float scale, int use_qk_l2norm, int chunk_size, int algorithm,
                             const float* q, const float* k, const float* v, const float* beta, const float* g,
                             const float* initial_state, float* o, float* final_state) {
  ls_delta_rule_params p = {};
  p.threads = g_threads;
  p.batch = static_cast<int64_t>(batch);
  p.seqlen = static_cast<int64_t>(seqlen);
  p.heads = static_cast<int64_t>(heads);
  p.value_heads = static_cast<int64_t>(value_heads);
  p.key_dim = static_cast<int64_t>(key_dim);
  p.value_dim = static_cast<int64_t>(value_dim);
  p.scale = scale;
  p.use_qk_l2norm = use_qk_l2norm;
  p.chunk_size = chunk_size;
  p.algorithm = algorithm;
  p.q = q;
  p.k = k;
  p.v = v;
  p.beta = beta;
  p.g = g;
  p.initial_state = initial_state;
  p.o = o;
  p.final_state = final_state;
  return ls_delta_rule_cpu(&p);
}

ls_status ls_wasm_delta_rule_step(double batch, double heads, double value_heads, double key_dim, double value_dim,
                                  float scale, int use_qk_l2norm, float* state, const float* q, const float* k,
                                  const float* v, const float* beta, const float* g, float* o) {
  ls_delta_rule_step_params p = {};
  p.threads = g_threads;
  p.batch = static_cast<int64_t>(batch);
  p.heads = static_cast<int64_t>(heads);
  p.value_heads = static_cast<int64_t>(value_heads);
  p.key_dim = static_cast<int64_t>(key_dim);
  p.value_dim = static_cast<int64_t>(value_dim);
  p.scale = scale;
  p.use_qk_l2norm = use_qk_l2norm;
  p.state = state;
  p.q = q;
  p.k = k;
  p.v = v;
  p.beta = beta;
  p.g = g;
  p.o = o;
  return ls_delta_rule_step_cpu(&p);
}

ls_status ls_wasm_causal_conv1d(double batch, double dim, double seqlen, double width, int silu, const float* x,
                                const float* weight, const float* bias, const float* initial_state, float* y,
                                float* final_state) {
  ls_causal_conv1d_params p = {};
  p.threads = g_threads;
  p.batch = static_cast<int64_t>(batch);
  p.dim = static_cast<int64_t>(dim);
  p.seqlen = static_cast<int64_t>(seqlen);
  p.width = static_cast<int64_t>(width);
  p.activation = silu ? LS_ACTIVATION_SILU : LS_ACTIVATION_NONE;
  p.x = x;
  p.weight = weight;
  p.bias = bias;
  p.initial_state = initial_state;
  p.y = y;
  p.final_state = final_state;
  return ls_causal_conv1d_cpu(&p);
}

ls_status ls_wasm_causal_conv1d_step(double batch, double dim, double width, int silu, float* state, const float* x,
                                     const float* weight, const float* bias, float* y) {
  ls_causal_conv1d_step_params p = {};
  p.threads = g_threads;
  p.batch = static_cast<int64_t>(batch);
  p.dim = static_cast<int64_t>(dim);
  p.width = static_cast<int64_t>(width);
  p.activation = silu ? LS_ACTIVATION_SILU : LS_ACTIVATION_NONE;
  p.state = state;
  p.x = x;
  p.weight = weight;
  p.bias = bias;
  p.y = y;
  return ls_causal_conv1d_step_cpu(&p);
}

ls_status ls_wasm_linear(double rows, double in_features, double out_features, const float* x, const float* weight,
                         const float* bias, float* y) {
  ls_linear_params p = {};
  p.threads = g_threads;
  p.rows = static_cast<int64_t>(rows);
  p.in_features = static_cast<int64_t>(in_features);
  p.out_features = static_cast<int64_t>(out_features);
  p.x = x;
  p.weight = weight;
  p.bias = bias;
  p.y = y;
  return ls_linear_cpu(&p);
}

ls_status ls_wasm_fft_conv(double batch, double channels, double seqlen, double kernel_len, int algorithm,
                           const float* u, const float* k, const float* spectrum, const float* D, float* y) {
  ls_fft_conv_params p = {};
  p.threads = g_threads;
  p.batch = static_cast<int64_t>(batch);
  p.channels = static_cast<int64_t>(channels);
  p.seqlen = static_cast<int64_t>(seqlen);
  p.kernel_len = static_cast<int64_t>(kernel_len);
  p.algorithm = algorithm;
  p.u = u;
  p.k = k;
  p.spectrum = spectrum;
  p.D = D;
  p.y = y;
  return ls_fft_conv_cpu(&p);
}

ls_status ls_wasm_fft_conv_spectrum(double channels, double seqlen, double kernel_len, const float* k, float* spectrum) {
  ls_fft_conv_spectrum_params p = {};
  p.threads = g_threads;
  p.channels = static_cast<int64_t>(channels);
  p.seqlen = static_cast<int64_t>(seqlen);
  p.kernel_len = static_cast<int64_t>(kernel_len);
  p.k = k;
  p.spectrum = spectrum;
  return ls_fft_conv_spectrum_cpu(&p);
}

double ls_wasm_fft_conv_spectrum_floats(double channels, double seqlen, double kernel_len) {
  return static_cast<double>(ls_fft_conv_spectrum_floats(static_cast<int64_t>(channels), static_cast<int64_t>(seqlen),
                                                         static_cast<int64_t>(kernel_len)));
}

ls_status ls_wasm_ssd_scan(double batch, double seqlen, double heads, double head_dim, double groups, double dstate,
                           int dt_softplus, float dt_min, float dt_max, int chunk_size, int algorithm, int D_per_dim,
                           const float* x, const float* dt, const float* A, const float* B, const float* C,
                           const float* D, const float* z, const float* dt_bias, const float* initial_state, float* y,
                           float* final_state) {
  ls_ssd_scan_params p = {};
  p.threads = g_threads;
  p.batch = static_cast<int64_t>(batch);
  p.seqlen = static_cast<int64_t>(seqlen);
  p.heads = static_cast<int64_t>(heads);
  p.head_dim = static_cast<int64_t>(head_dim);
  p.groups = static_cast<int64_t>(groups);
  p.dstate = static_cast<int64_t>(dstate);
  p.dt_softplus = dt_softplus;
  p.dt_min = dt_min;
  p.dt_max = dt_max;
  p.chunk_size = chunk_size;
  p.algorithm = algorithm;
  p.D_per_dim = D_per_dim;
  p.x = x;
  p.dt = dt;
  p.A = A;
  p.B = B;
  p.C = C;
  p.D = D;
  p.z = z;
  p.dt_bias = dt_bias;
  p.initial_state = initial_state;
  p.y = y;
  p.final_state = final_state;
  return ls_ssd_scan_cpu(&p);
}

ls_status ls_wasm_ssd_scan_step(double batch, double heads, double head_dim, double groups, double dstate,
                                int dt_softplus, float dt_min, float dt_max, int D_per_dim, float* state,
                                const float* x, const float* dt, const float* A, const float* B, const float* C,
                                const float* D, const float* z, const float* dt_bias, float* y) {
  ls_ssd_scan_step_params p = {};
  p.threads = g_threads;
  p.batch = static_cast<int64_t>(batch);
  p.heads = static_cast<int64_t>(heads);
  p.head_dim = static_cast<int64_t>(head_dim);
  p.groups = static_cast<int64_t>(groups);
  p.dstate = static_cast<int64_t>(dstate);
  p.dt_softplus = dt_softplus;
  p.dt_min = dt_min;
  p.dt_max = dt_max;
  p.D_per_dim = D_per_dim;
  p.state = state;
  p.x = x;
  p.dt = dt;
  p.A = A;
  p.B = B;
  p.C = C;
  p.D = D;
  p.z = z;
  p.dt_bias = dt_bias;
  p.y = y;
  return ls_ssd_scan_step_cpu(&p);
}

}  // extern "C"
