// The sizes and options the CPU and CUDA selective scan ops both read from their args object, with the
// contiguous strides they imply (native/addon/selective_scan.cc).
#ifndef LONGSEQ_ADDON_SELECTIVE_SCAN_SIZES_H_
#define LONGSEQ_ADDON_SELECTIVE_SCAN_SIZES_H_

#include <napi.h>

#include "longseq/longseq.h"

namespace ls_addon {

// batch, dim, dstate, seqlen, groups, deltaSoftplus; u/delta/z/y and B/C strides.
void ReadScanSizes(const Napi::Object& args, ls_selective_scan_params* p);
// batch, dim, dstate, groups, deltaSoftplus.
void ReadScanStepSizes(const Napi::Object& args, ls_selective_scan_step_params* p);

}  // namespace ls_addon

#endif  // LONGSEQ_ADDON_SELECTIVE_SCAN_SIZES_H_
