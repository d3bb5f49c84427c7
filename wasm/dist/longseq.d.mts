// Types for the Emscripten glue wasm/dist/longseq.mjs (built from wasm/entry.cc by CMake under emcmake).
export interface LongseqModule {
  HEAPU8: Uint8Array;
  HEAPF32: Float32Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  _ls_last_error(): number;
  _ls_simd_target(): number;
  _ls_wasm_set_threads(threads: number): void;
  _ls_wasm_threads(): number;
  _ls_wasm_selective_scan(...args: number[]): number;
  _ls_wasm_selective_scan_step(...args: number[]): number;
  _ls_wasm_delta_rule(...args: number[]): number;
  _ls_wasm_delta_rule_step(...args: number[]): number;
  _ls_wasm_causal_conv1d(...args: number[]): number;
  _ls_wasm_causal_conv1d_step(...args: number[]): number;
  _ls_wasm_fft_conv(...args: number[]): number;
  _ls_wasm_fft_conv_spectrum(...args: number[]): number;
  _ls_wasm_ssd_scan(...args: number[]): number;
  _ls_wasm_ssd_scan_step(...args: number[]): number;
  _ls_wasm_linear(...args: number[]): number;
  _ls_wasm_fft_conv_spectrum_floats(channels: number, seqlen: number, kernelLen: number): number;
  UTF8ToString(pointer: number): string;
}

export default function createLongseqModule(options?: {
  wasmBinary?: ArrayBuffer | Uint8Array;
  locateFile?: (path: string, scriptDirectory: string) => string;
}): Promise<LongseqModule>;
