// The ls_cuda_* entries of a build without nvcc: each says so, so callers can report why CUDA is missing.
#include "cpu/status.h"
#include "longseq/longseq.h"

namespace {

ls_status NotBuilt() {
  ls::ClearError();
  return ls::Fail(LS_UNAVAILABLE, "longseq was built without CUDA (nvcc was not found when it was built)");
}

}  // namespace

extern "C" ls_status ls_cuda_device(ls_cuda_device_info*) { return NotBuilt(); }
extern "C" ls_status ls_cuda_malloc(void**, int64_t, void*) { return NotBuilt(); }
extern "C" ls_status ls_cuda_free(void*, void*) { return NotBuilt(); }
extern "C" ls_status ls_cuda_copy(void*, const void*, int64_t, void*) { return NotBuilt(); }
extern "C" ls_status ls_cuda_synchronize(void*) { return NotBuilt(); }
extern "C" ls_status ls_selective_scan_cuda(const ls_selective_scan_params*, void*) { return NotBuilt(); }
extern "C" ls_status ls_selective_scan_step_cuda(const ls_selective_scan_step_params*, void*) { return NotBuilt(); }
extern "C" ls_status ls_causal_conv1d_cuda(const ls_causal_conv1d_params*, void*) { return NotBuilt(); }
extern "C" ls_status ls_causal_conv1d_step_cuda(const ls_causal_conv1d_step_params*, void*) { return NotBuilt(); }
extern "C" ls_status ls_ssd_scan_cuda(const ls_ssd_scan_params*, void*) { return NotBuilt(); }
extern "C" ls_status ls_ssd_scan_step_cuda(const ls_ssd_scan_step_params*, void*) { return NotBuilt(); }
extern "C" ls_status ls_fft_conv_cuda(const ls_fft_conv_params*, void*) { return NotBuilt(); }
extern "C" int64_t ls_fft_conv_spectrum_floats_cuda(int64_t, int64_t, int64_t) { return -1; }
extern "C" ls_status ls_fft_conv_spectrum_cuda(const ls_fft_conv_spectrum_params*, void*) { return NotBuilt(); }
extern "C" ls_status ls_delta_rule_cuda(const ls_delta_rule_params*, void*) { return NotBuilt(); }
extern "C" ls_status ls_delta_rule_step_cuda(const ls_delta_rule_step_params*, void*) { return NotBuilt(); }
