// The delta rule's argument checks and the step's form as a one-token rule, shared by the CPU and CUDA entries
// so both refuse the same calls and compute the step the same way.
#ifndef LONGSEQ_CPU_DELTA_RULE_H_
#define LONGSEQ_CPU_DELTA_RULE_H_

#include "longseq/longseq.h"

namespace ls {

// Sizes (key_dim, value_dim <= 4096), pointers, value_heads a multiple of heads, scale, chunk_size and algorithm;
// each fails with a message naming the argument.
ls_status ValidateDeltaRule(const ls_delta_rule_params& p);

// The step as the recurrence over one token ([B, H, K] is [B, 1, H, K]) from the state, written back in place.
ls_delta_rule_params DeltaRuleStepAsRule(const ls_delta_rule_step_params& p);

}  // namespace ls

#endif  // LONGSEQ_CPU_DELTA_RULE_H_
