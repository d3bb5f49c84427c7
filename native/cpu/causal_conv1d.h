// The causal conv1d's argument checks, shared by the CPU and CUDA entries so both refuse the same calls.
#ifndef LONGSEQ_CPU_CAUSAL_CONV1D_H_
#define LONGSEQ_CPU_CAUSAL_CONV1D_H_

#include "longseq/longseq.h"

namespace ls {

// Sizes (2 <= width <= 64), the activation and the required pointers; each fails with a message naming the
// argument.
ls_status ValidateCausalConv1d(const ls_causal_conv1d_params& p);
ls_status ValidateCausalConv1dStep(const ls_causal_conv1d_step_params& p);

}  // namespace ls

#endif  // LONGSEQ_CPU_CAUSAL_CONV1D_H_
