// The sizes and options the CPU and CUDA delta rule ops both read from their args object (native/addon/delta_rule.cc).
#ifndef LONGSEQ_ADDON_DELTA_RULE_SIZES_H_
#define LONGSEQ_ADDON_DELTA_RULE_SIZES_H_

#include <napi.h>

#include "longseq/longseq.h"

namespace ls_addon {

// batch, seqlen, heads, valueHeads, keyDim, valueDim, scale, useQkL2Norm, chunkSize, algorithm.
void ReadDeltaRuleSizes(const Napi::Object& args, ls_delta_rule_params* p);
// batch, heads, valueHeads, keyDim, valueDim, scale, useQkL2Norm.
void ReadDeltaRuleStepSizes(const Napi::Object& args, ls_delta_rule_step_params* p);

}  // namespace ls_addon

#endif  // LONGSEQ_ADDON_DELTA_RULE_SIZES_H_
