/** Enum values of the C API (native/include/longseq/longseq.h), shared by the native and wasm adapters. */
import type { DeltaRuleAlgorithm, FftConvAlgorithm, SsdAlgorithm } from '../backend.js';

/** ls_delta_algorithm */
export const DELTA_ALGORITHMS: Record<DeltaRuleAlgorithm, number> = { auto: 0, chunked: 1, recurrent: 2 };

/** ls_ssd_algorithm */
export const SSD_ALGORITHMS: Record<SsdAlgorithm, number> = { auto: 0, chunked: 1, recurrent: 2 };

/** ls_fft_conv_algorithm */
export const FFT_CONV_ALGORITHMS: Record<FftConvAlgorithm, number> = { auto: 0, fft: 1, direct: 2 };

