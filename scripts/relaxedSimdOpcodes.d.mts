/** The custom section that marks a relaxed-SIMD build. */
export const RELAXED_SECTION: string;
/** Rewrites a WASM module's LLVM 14 relaxed-SIMD multiply-adds to the standard opcodes, in place. */
export function rewriteRelaxedSimd(bytes: Uint8Array): { rewritten: number; marked: boolean };
/** The module rewritten (in place) and marked with RELAXED_SECTION (a new array when the mark is added). */
export function relaxedModule(bytes: Uint8Array): { bytes: Uint8Array; rewritten: number };
/** Unsigned LEB128, as the binary format writes sizes and counts. */
export function uleb(n: number): number[];
