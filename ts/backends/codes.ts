/** Enum values of the C API (native/include/longseq/longseq.h), shared by the native and wasm adapters. */
import type { DeltaRuleAlgorithm, FftConvAlgorithm } from '../backend.js';

/** ls_delta_algorithm */
export const DELTA_ALGORITHMS: Record<DeltaRuleAlgorithm, number> = { auto: 0, chunked: 1, recurrent: 2 };

/** ls_fft_conv_algorithm */
export const FFT_CONV_ALGORITHMS: Record<FftConvAlgorithm, number> = { auto: 0, fft: 1, direct: 2 };

/** Floats of a kernel spectrum: channels x 2 x (n/2 + 1), n the FFT size, the smallest power of two >= max(2,
 * L + Lk - 1) (the rule of FftConvSize in native/cpu/fft.cc). */
export function spectrumFloats(channels: number, seqlen: number, kernelLen: number): number {
  let n = 2;
  while (n < seqlen + kernelLen - 1) n *= 2;
  return channels * 2 * (n / 2 + 1);
}
