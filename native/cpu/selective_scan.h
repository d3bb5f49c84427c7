// The selective scan's argument checks, shared by the CPU and CUDA entries so both refuse the same calls.
#ifndef LONGSEQ_CPU_SELECTIVE_SCAN_H_
#define LONGSEQ_CPU_SELECTIVE_SCAN_H_

#include "longseq/longseq.h"

namespace ls {

// Sizes, pointers, strides, groups and storage; each fails with a message naming the argument. The CPU
// entries then also require LS_FLOAT32 storage.
ls_status ValidateSelectiveScan(const ls_selective_scan_params& p);
ls_status ValidateSelectiveScanStep(const ls_selective_scan_step_params& p);

}  // namespace ls

#endif  // LONGSEQ_CPU_SELECTIVE_SCAN_H_
