/** Enum values of the C API (native/include/longseq/longseq.h), shared by the native and wasm adapters. */
import type { DeltaRuleAlgorithm } from '../backend.js';

/** ls_delta_algorithm */
export const DELTA_ALGORITHMS: Record<DeltaRuleAlgorithm, number> = { auto: 0, chunked: 1, recurrent: 2 };
