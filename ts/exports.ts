/** What both entry points export besides init() and available(). */
export { LongSeq } from './longseq.js';
export {
  tensor, zeros, sizeOf, toBFloat16, toFloat32, floatsToBFloat16, bfloat16ToFloats, type Tensor, type AnyTensor, type DType,
} from './tensor.js';
export { DeviceTensor } from './device.js';
export { BackendUnavailableError, type BackendName, type BackendStatus, type InitOptions } from './backend.js';
export type { SelectiveScanParams, SelectiveScanResult, ScanInput, FloatInput, OutputLike, StateLike } from './ops/selectiveScan.js';
export type { SelectiveScanStepParams } from './ops/selectiveScanStep.js';
export type { DeltaRuleParams, DeltaRuleResult } from './ops/deltaRule.js';
export type { DeltaRuleStepParams } from './ops/deltaRuleStep.js';
export type { DeltaRuleAlgorithm } from './backend.js';
export type { CausalConv1dParams, CausalConv1dResult } from './ops/causalConv1d.js';
export type { CausalConv1dStepParams } from './ops/causalConv1dStep.js';
export { FftConvPlan, type FftConvParams, type FftConvPlanParams, type FftConvRunParams } from './ops/fftConv.js';
export type { FftConvAlgorithm, SsdAlgorithm } from './backend.js';
export type { SsdScanParams, SsdScanResult } from './ops/ssdScan.js';
export type { SsdScanStepParams } from './ops/ssdScanStep.js';
export type { LinearParams } from './ops/linear.js';
export type { MambaBlock, MambaBlocksStepParams, MambaBlockWeights } from './ops/mambaBlocksStep.js';
export { readSafetensors, writeSafetensors, type SafetensorsFile } from './io/safetensors.js';
