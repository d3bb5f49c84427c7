// The sizes and options the CPU and CUDA SSD scan ops both read from their args object (native/addon/ssd_scan.cc).
#ifndef LONGSEQ_ADDON_SSD_SCAN_SIZES_H_
#define LONGSEQ_ADDON_SSD_SCAN_SIZES_H_

#include <napi.h>

#include "longseq/longseq.h"

namespace ls_addon {

// batch, seqlen, heads, headDim, groups, dstate, dtSoftplus, dtMin, dtMax, chunkSize.
void ReadSsdScanSizes(const Napi::Object& args, ls_ssd_scan_params* p);
// batch, heads, headDim, groups, dstate, dtSoftplus, dtMin, dtMax.
void ReadSsdScanStepSizes(const Napi::Object& args, ls_ssd_scan_step_params* p);

}  // namespace ls_addon

#endif  // LONGSEQ_ADDON_SSD_SCAN_SIZES_H_
