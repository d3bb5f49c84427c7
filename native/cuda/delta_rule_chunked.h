// The delta rule's chunked form on the GPU (delta_rule_chunked.cu), which ls_delta_rule_cuda picks for long
// sequences; arguments already checked by ValidateDeltaRule.
#ifndef LONGSEQ_CUDA_DELTA_RULE_CHUNKED_H_
#define LONGSEQ_CUDA_DELTA_RULE_CHUNKED_H_

#include <cuda_runtime.h>

#include "longseq/longseq.h"

namespace ls {
namespace cuda {

// Whether the chunked kernels take this shape (key_dim <= 128; the recurrence takes up to 256).
bool DeltaRuleChunkedFits(const ls_delta_rule_params& p);

ls_status LaunchDeltaRuleChunked(const ls_delta_rule_params& p, cudaStream_t stream);

}  // namespace cuda
}  // namespace ls

#endif  // LONGSEQ_CUDA_DELTA_RULE_CHUNKED_H_
