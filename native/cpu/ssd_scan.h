// The SSD scan's argument checks, shared by the CPU and CUDA entries so both refuse the same calls.
#ifndef LONGSEQ_CPU_SSD_SCAN_H_
#define LONGSEQ_CPU_SSD_SCAN_H_

#include "longseq/longseq.h"

namespace ls {

// Sizes, pointers, groups, chunk_size, algorithm and dt limits; each fails with a message naming the argument.
ls_status ValidateSsdScan(const ls_ssd_scan_params& p);

}  // namespace ls

#endif  // LONGSEQ_CPU_SSD_SCAN_H_
