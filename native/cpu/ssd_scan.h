// The SSD scan's argument checks and the step's form as a one-token scan, shared by the CPU and CUDA entries so
// both refuse the same calls and compute the step the same way.
#ifndef LONGSEQ_CPU_SSD_SCAN_H_
#define LONGSEQ_CPU_SSD_SCAN_H_

#include "longseq/longseq.h"

namespace ls {

// Sizes, pointers, groups, chunk_size, algorithm and dt limits; each fails with a message naming the argument.
ls_status ValidateSsdScan(const ls_ssd_scan_params& p);

// The step as the recurrence over one token ([B, H, P] is [B, 1, H, P]) from the state, written back in place.
ls_ssd_scan_params SsdScanStepAsScan(const ls_ssd_scan_step_params& p);

}  // namespace ls

#endif  // LONGSEQ_CPU_SSD_SCAN_H_
