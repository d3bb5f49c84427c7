// The addon's ops, one file each; addon.cc registers them.
#ifndef LONGSEQ_ADDON_OPS_H_
#define LONGSEQ_ADDON_OPS_H_

#include <napi.h>

namespace ls_addon {

Napi::Value SelectiveScan(const Napi::CallbackInfo& info);
Napi::Value SelectiveScanStep(const Napi::CallbackInfo& info);
Napi::Value DeltaRule(const Napi::CallbackInfo& info);
Napi::Value DeltaRuleStep(const Napi::CallbackInfo& info);
Napi::Value CausalConv1d(const Napi::CallbackInfo& info);
Napi::Value CausalConv1dStep(const Napi::CallbackInfo& info);
Napi::Value FftConv(const Napi::CallbackInfo& info);
Napi::Value FftConvSpectrum(const Napi::CallbackInfo& info);
Napi::Value SsdScan(const Napi::CallbackInfo& info);
Napi::Value SsdScanStep(const Napi::CallbackInfo& info);
Napi::Value Linear(const Napi::CallbackInfo& info);
Napi::Value MambaBlocksStep(const Napi::CallbackInfo& info);
Napi::Value CudaSelectiveScan(const Napi::CallbackInfo& info);
Napi::Value CudaSelectiveScanStep(const Napi::CallbackInfo& info);
Napi::Value CudaCausalConv1d(const Napi::CallbackInfo& info);
Napi::Value CudaCausalConv1dStep(const Napi::CallbackInfo& info);
Napi::Value CudaDeltaRule(const Napi::CallbackInfo& info);
Napi::Value CudaDeltaRuleStep(const Napi::CallbackInfo& info);
Napi::Value CudaFftConv(const Napi::CallbackInfo& info);
Napi::Value CudaFftConvSpectrum(const Napi::CallbackInfo& info);
Napi::Value CudaSsdScan(const Napi::CallbackInfo& info);
Napi::Value CudaSsdScanStep(const Napi::CallbackInfo& info);

}  // namespace ls_addon

#endif  // LONGSEQ_ADDON_OPS_H_
