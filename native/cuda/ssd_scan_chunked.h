// Mamba-2's SSD scan in the chunked form on the GPU (ssd_scan_chunked.cu), which ls_ssd_scan_cuda picks for long
// sequences; arguments already checked by ValidateSsdScan. Included by CUDA sources only.
#ifndef LONGSEQ_CUDA_SSD_SCAN_CHUNKED_H_
#define LONGSEQ_CUDA_SSD_SCAN_CHUNKED_H_

#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "longseq/longseq.h"

namespace ls {
namespace cuda {

// The step size of a token: dt + dt_bias, softplus'ed if asked, clamped to [lo, hi] (NaN stays NaN, as on the CPU).
__device__ __forceinline__ float SsdStepSize(float dt, float bias, bool softplus, float lo, float hi) {
  dt += bias;
  if (softplus) dt = Softplus(dt);
  if (dt < lo) dt = lo;
  if (dt > hi) dt = hi;
  return dt;
}

// Whether the chunked kernels take this shape (dstate <= 128; the recurrence takes up to 256).
bool SsdChunkedFits(const ls_ssd_scan_params& p);

ls_status LaunchSsdChunked(const ls_ssd_scan_params& p, cudaStream_t stream);

}  // namespace cuda
}  // namespace ls

#endif  // LONGSEQ_CUDA_SSD_SCAN_CHUNKED_H_
