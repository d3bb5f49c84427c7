// longseq-delta-rule-emulated: the CUDA delta rule's kernels run on the CPU (cuda/emulate.h) against the recurrence
// in double. Here the recurrent kernels (delta_rule.cu: the token-by-token rule that short sequences and wide keys
// take, and the decode step's two kernels): key dims of one warp's rows and several (padded), value dims spanning
// column groups, chunks of tokens past the staging size, gated and plain, L2-normalized q and k, grouped value heads,
// initial and final states (the step's written over the one it reads), float32 and bfloat16 storage;
// delta_rule_chunked_emulated.cc adds the chunked form. Prints a line per case and exits with the number that failed
// (relative L2 error above 2e-5; o above 4e-3 in bfloat16, whose rounding of o alone gives about 1.5e-3).
// test/cudaEmulated.test.ts runs it.
#define LONGSEQ_CUDA_EMULATE
#include "cuda/delta_rule.cu"
#include "cuda/delta_rule_emulated.h"

namespace {

using namespace ls::cuda;
using namespace delta_emulated;

enum class Kernel { kRule, kStep, kStepQuads };

int failed = 0;

template <typename S>
void Run(const Case& c, Kernel kernel) {
  Problem<S> p(c);
  const int64_t K = c.K, V = c.V;
  const RuleArgs<S> a = {c.batch,       c.seqlen,      c.heads,       c.value_heads,
                         K,             V,             p.q.data(),    p.k.data(),
                         p.v.data(),    p.beta.data(), c.gated ? p.g.data() : nullptr,
                         c.initial ? p.initial.data() : nullptr,
                         p.o.data(),    p.final_out,   p.scale,       c.l2norm};
  const int warps = static_cast<int>((K + kRows - 1) / kRows);
  const int groups = static_cast<int>((V + kColumns - 1) / kColumns);
  const int blocks = static_cast<int>(c.batch * c.value_heads * groups);
  if (kernel == Kernel::kRule) {
    emulate::Launch(blocks, 32 * warps, SharedBytes(warps * kRows, warps), [&] { DeltaRuleKernel<S>(a, groups); });
  } else if (kernel == Kernel::kStep) {
    emulate::Launch(blocks, 32 * warps, 0, [&] { DeltaStepKernel<S>(a, groups); });
  } else {
    const int quad_groups = static_cast<int>((V + 4 * kColumns - 1) / (4 * kColumns));
    emulate::Launch(static_cast<int>(c.batch * c.value_heads * quad_groups), 32 * warps, 0,
                    [&] { DeltaStepQuadKernel<S>(a, quad_groups); });
  }
  const char* what = kernel == Kernel::kRule ? "rule" : kernel == Kernel::kStep ? "step" : "step (quads)";
  failed += p.Report(what, sizeof(S) == 2 ? 4e-3 : 2e-5);
}

}  // namespace

int main() {
  const Case rule[] = {
      {1, 70, 1, 2, 40, 50, true, true, true, false},  // 3 warps (K padded to 48), 2 column groups
      {2, 33, 2, 2, 16, 32, false, false, false, false},
      {1, 40, 1, 1, 128, 20, true, true, true, false},
  };
  const Case step[] = {
      {2, 1, 1, 2, 40, 50, true, true, true, true},
      {1, 1, 2, 4, 128, 36, false, true, true, false},
  };
  const Case step_quads[] = {
      {2, 1, 1, 2, 40, 132, true, true, true, true},  // 2 quad groups, the second partial
      {1, 1, 2, 2, 16, 8, false, false, true, false},
  };
  for (const Case& c : rule) Run<float>(c, Kernel::kRule);
  for (const Case& c : step) Run<float>(c, Kernel::kStep);
  for (const Case& c : step_quads) Run<float>(c, Kernel::kStepQuads);
  Run<__nv_bfloat16>(rule[0], Kernel::kRule);
  Run<__nv_bfloat16>(step[0], Kernel::kStep);
  Run<__nv_bfloat16>(step_quads[0], Kernel::kStepQuads);
  return failed + delta_emulated::ChunkedCases() + delta_emulated::ChunkedCasesSm90() +
         delta_emulated::ChunkedCasesSm90a();
}
