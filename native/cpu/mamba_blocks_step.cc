// One decode token through consecutive Mamba blocks in one call (ls_mamba_blocks_step_cpu): per block RMSNorm,
// in_proj, the conv1d step, x_proj, dt_proj, the selective scan step, out_proj and the residual, through the same
// kernels as the separate ops.
//
// Why fused: a decode step of mamba-130m's shape is 145 op calls per token, each a few to a few hundred
// microseconds of work, and through the addon every call also pays a trip to a libuv worker thread and back
// (≈ 50-150 us on the 2-core VM we measure on, more than the work of the small projections). One call for all
// the blocks pays it once, and keeps the pool's threads busy from one kernel to the next. Every argument is
// checked first, so a failure names this op's arguments, and the states change only once all are checked.
#include <math.h>
#include <string.h>

#include "cpu/scratch.h"
#include "cpu/status.h"
#include "longseq/longseq.h"

namespace ls {
namespace {

// a * b into `out`, failing with a message naming `name` when it passes 2^53 (what a JS number holds exactly).
ls_status Product(const char* name, int64_t a, int64_t b, int64_t* out) {
  constexpr int64_t kMax = int64_t{1} << 53;
  if (a > kMax / b) return Fail(LS_INVALID_ARGUMENT, "%s: more than 2^53 elements", name);
  *out = a * b;
  return LS_OK;
}

ls_status Validate(const ls_mamba_blocks_step_params& p) {
  ls_status s;
  if ((s = CheckPositive("batch", p.batch)) || (s = CheckPositive("hidden_size", p.hidden_size)) ||
      (s = CheckPositive("inner", p.inner)) || (s = CheckPositive("dstate", p.dstate)) ||
      (s = CheckPositive("dt_rank", p.dt_rank)) || (s = CheckPositive("conv_width", p.conv_width)) ||
      (s = CheckPositive("num_blocks", p.num_blocks))) {
    return s;
  }
  if (p.conv_width < 2) return Fail(LS_INVALID_ARGUMENT, "conv_width: must be at least 2, got %lld", static_cast<long long>(p.conv_width));
  if (!(p.eps >= 0.0f) || !isfinite(p.eps)) return Fail(LS_INVALID_ARGUMENT, "eps: must be a finite number >= 0");
  if ((s = CheckPointer("hidden", p.hidden)) || (s = CheckPointer("y", p.y)) || (s = CheckPointer("blocks", p.blocks))) return s;
  for (int64_t i = 0; i < p.num_blocks; ++i) {
    const ls_mamba_block& b = p.blocks[i];
    const char* missing = !b.norm ? "norm" : !b.in_proj ? "in_proj" : !b.conv_weight ? "conv_weight" : !b.x_proj ? "x_proj"
                        : !b.dt_proj ? "dt_proj" : !b.dt_bias ? "dt_bias" : !b.A ? "A" : !b.D ? "D" : !b.out_proj ? "out_proj"
                        : !b.conv_state ? "conv_state" : !b.ssm_state ? "ssm_state" : nullptr;
    if (missing) return Fail(LS_INVALID_ARGUMENT, "blocks[%lld].%s: must not be NULL", static_cast<long long>(i), missing);
  }
  return LS_OK;
}

// Float offsets of the step's intermediate rows in one scratch block.
struct Layout {
  int64_t normed, proj, x, z, conv, params, dt_in, B, C, dt, scan, out, total;
};

ls_status Plan(const ls_mamba_blocks_step_params& p, Layout* l) {
  const int64_t params_width = p.dt_rank + 2 * p.dstate;
  const int64_t widths[] = {p.hidden_size, 2 * p.inner, p.inner, p.inner, p.inner, params_width,
                            p.dt_rank,     p.dstate,    p.dstate, p.inner, p.inner, p.hidden_size};
  int64_t* offsets[] = {&l->normed, &l->proj, &l->x, &l->z, &l->conv, &l->params,
                        &l->dt_in,  &l->B,    &l->C, &l->dt, &l->scan, &l->out};
  int64_t total = 0;
  for (int i = 0; i < 12; ++i) {
    int64_t floats = 0;
    if (ls_status s = Product("batch x features", p.batch, widths[i], &floats)) return s;
    *offsets[i] = total;
    total += (floats + 15) / 16 * 16;  // 64-byte aligned rows for the SIMD kernels
  }
  l->total = total;
  return LS_OK;
}

// Columns [from, from + count) of `rows` rows of `width` into a contiguous [rows, count].
void Columns(const float* in, int64_t rows, int64_t width, int64_t from, int64_t count, float* out) {
  for (int64_t r = 0; r < rows; ++r) memcpy(out + r * count, in + r * width + from, count * sizeof(float));
}

// out = x / sqrt(mean(x²) + eps) · weight per row, the sum in double (as the models' TS RMSNorm).
void RmsNorm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * dim;
    double sum = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum += static_cast<double>(row[i]) * row[i];
    const double scale = 1.0 / sqrt(sum / static_cast<double>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) out[r * dim + i] = static_cast<float>(row[i] * scale * weight[i]);
  }
}

ls_status Linear(const ls_mamba_blocks_step_params& p, const float* x, int64_t in, const float* weight, int64_t out_features,
                 float* y) {
  ls_linear_params l = {};
  l.threads = p.threads;
  l.rows = p.batch;
  l.in_features = in;
  l.out_features = out_features;
  l.x = x;
  l.weight = weight;
  l.y = y;
  return ls_linear_cpu(&l);
}

// One block on the rows `hidden` into `y` (which may alias it), with the scratch rows of `l` in `w`.
ls_status BlockStep(const ls_mamba_blocks_step_params& p, const ls_mamba_block& b, const float* hidden, float* y,
                    const Layout& l, float* w) {
  ls_status s;
  const int64_t B = p.batch, I = p.inner, N = p.dstate, R = p.dt_rank;
  RmsNorm(hidden, B, p.hidden_size, b.norm, p.eps, w + l.normed);
  if ((s = Linear(p, w + l.normed, p.hidden_size, b.in_proj, 2 * I, w + l.proj))) return s;
  Columns(w + l.proj, B, 2 * I, 0, I, w + l.x);
  Columns(w + l.proj, B, 2 * I, I, I, w + l.z);

  ls_causal_conv1d_step_params conv = {};
  conv.threads = p.threads;
  conv.batch = B;
  conv.dim = I;
  conv.width = p.conv_width;
  conv.state = b.conv_state;
  conv.x = w + l.x;
  conv.weight = b.conv_weight;
  conv.bias = b.conv_bias;
  conv.activation = LS_ACTIVATION_SILU;
  conv.y = w + l.conv;
  if ((s = ls_causal_conv1d_step_cpu(&conv))) return s;

  const int64_t params_width = R + 2 * N;
  if ((s = Linear(p, w + l.conv, I, b.x_proj, params_width, w + l.params))) return s;
  Columns(w + l.params, B, params_width, 0, R, w + l.dt_in);
  Columns(w + l.params, B, params_width, R, N, w + l.B);
  Columns(w + l.params, B, params_width, R + N, N, w + l.C);
  if ((s = Linear(p, w + l.dt_in, R, b.dt_proj, I, w + l.dt))) return s;

  ls_selective_scan_step_params scan = {};
  scan.threads = p.threads;
  scan.batch = B;
  scan.dim = I;
  scan.dstate = N;
  scan.groups = 1;
  scan.state = b.ssm_state;
  scan.x = w + l.conv;
  scan.delta = w + l.dt;
  scan.z = w + l.z;
  scan.B = w + l.B;
  scan.C = w + l.C;
  scan.A = b.A;
  scan.D = b.D;
  scan.delta_bias = b.dt_bias;
  scan.delta_softplus = 1;
  scan.y = w + l.scan;
  scan.storage = LS_FLOAT32;
  if ((s = ls_selective_scan_step_cpu(&scan))) return s;

  if ((s = Linear(p, w + l.scan, I, b.out_proj, p.hidden_size, w + l.out))) return s;
  const int64_t n = B * p.hidden_size;
  for (int64_t i = 0; i < n; ++i) y[i] = hidden[i] + w[l.out + i];
  return LS_OK;
}

ls_status MambaBlocksStep(const ls_mamba_blocks_step_params& p) {
  ls_status s;
  Layout l;
  if ((s = Validate(p)) || (s = Plan(p, &l))) return s;
  // Checked once, before any state changes: a call either runs every block or changes nothing.
  if (Cancelled(p.cancel)) return CancelledStatus();
  ScratchBuffers scratch(1, l.total);
  if (!scratch.ok()) {
    return Fail(LS_OUT_OF_MEMORY, "could not allocate %lld floats of scratch", static_cast<long long>(l.total));
  }
  for (int64_t i = 0; i < p.num_blocks; ++i) {
    if ((s = BlockStep(p, p.blocks[i], i == 0 ? p.hidden : p.y, p.y, l, scratch.get(0)))) return s;
  }
  return LS_OK;
}

}  // namespace
}  // namespace ls

extern "C" ls_status ls_mamba_blocks_step_cpu(const ls_mamba_blocks_step_params* p) {
  ls::ClearError();
  if (ls_status s = ls::CheckPointer("params", p)) return s;
  return ls::MambaBlocksStep(*p);
}
