/**
 * The contract between the ops and the backends, and the registry that picks a backend.
 *
 * An op validates its params once (validate.ts) into the flat, checked `*Args` below: sizes as numbers, tensors
 * as contiguous Float32Arrays. A backend only moves bytes and calls its kernel; it never re-validates for the
 * user (native code checks again only to protect the process).
 */

import type { DeviceTensor } from './device.js';
import type { DType } from './tensor.js';

export type BackendName = 'cuda' | 'native' | 'wasm' | 'js';

/** Backends in order of preference: `init()` without a backend picks the first that loads. */
export const BACKEND_PREFERENCE: readonly BackendName[] = ['cuda', 'native', 'wasm', 'js'];

/** What every op's args carry besides their tensors. */
export interface CallOptions {
  /** Set to 1 to ask the native kernels to stop early (see cancel.ts). */
  cancel?: Int32Array;
}

export interface SelectiveScanArgs extends CallOptions {
  batch: number;
  dim: number;
  dstate: number;
  seqlen: number;
  groups: number;
  u: Float32Array;
  delta: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  z?: Float32Array;
  D?: Float32Array;
  deltaBias?: Float32Array;
  initialState?: Float32Array;
  deltaSoftplus: boolean;
  returnFinalState: boolean;
}

export interface SelectiveScanOutputs {
  y: Float32Array;
  finalState?: Float32Array;
}

export interface SelectiveScanStepArgs extends CallOptions {
  batch: number;
  dim: number;
  dstate: number;
  groups: number;
  /** Updated in place, only once the step has succeeded. */
  state: Float32Array;
  x: Float32Array;
  delta: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  z?: Float32Array;
  D?: Float32Array;
  deltaBias?: Float32Array;
  deltaSoftplus: boolean;
}

export type DeltaRuleAlgorithm = 'auto' | 'chunked' | 'recurrent';

export interface DeltaRuleArgs extends CallOptions {
  batch: number;
  seqlen: number;
  heads: number;
  valueHeads: number;
  keyDim: number;
  valueDim: number;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  beta: Float32Array;
  g?: Float32Array;
  initialState?: Float32Array;
  scale: number;
  chunkSize: number;
  useQkL2Norm: boolean;
  algorithm: DeltaRuleAlgorithm;
  returnFinalState: boolean;
  /** The cuda backend may take bf16 products (DeltaRuleParams.allowBf16Products); the CPU backends ignore it. */
  allowBf16Products: boolean;
}

export interface DeltaRuleOutputs {
  o: Float32Array;
  finalState?: Float32Array;
}

export interface DeltaRuleStepArgs extends CallOptions {
  batch: number;
  heads: number;
  valueHeads: number;
  keyDim: number;
  valueDim: number;
  /** Updated in place, only once the step has succeeded. */
  state: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  beta: Float32Array;
  g?: Float32Array;
  scale: number;
  useQkL2Norm: boolean;
}

export interface CausalConv1dArgs extends CallOptions {
  batch: number;
  dim: number;
  seqlen: number;
  width: number;
  x: Float32Array;
  weight: Float32Array;
  bias?: Float32Array;
  initialState?: Float32Array;
  silu: boolean;
  returnFinalState: boolean;
}

export interface CausalConv1dOutputs {
  y: Float32Array;
  finalState?: Float32Array;
}

export interface LinearArgs extends CallOptions {
  rows: number;
  inFeatures: number;
  outFeatures: number;
  x: Float32Array;
  weight: Float32Array;
  bias?: Float32Array;
}

/** One block of mambaBlocksStep: its weights and its two states (updated in place). */
export interface MambaBlockArgs {
  norm: Float32Array;
  inProj: Float32Array;
  convWeight: Float32Array;
  convBias?: Float32Array;
  xProj: Float32Array;
  dtProj: Float32Array;
  dtBias: Float32Array;
  A: Float32Array;
  D: Float32Array;
  outProj: Float32Array;
  convState: Float32Array;
  ssmState: Float32Array;
}

/** A decode token through consecutive Mamba blocks (ops/mambaBlocksStep.ts); sizes as in ls_mamba_blocks_step_params. */
export interface MambaBlocksStepArgs extends CallOptions {
  batch: number;
  hiddenSize: number;
  inner: number;
  dstate: number;
  dtRank: number;
  convWidth: number;
  eps: number;
  hidden: Float32Array;
  /** Their states are updated in place, only once the whole call has succeeded. */
  blocks: MambaBlockArgs[];
}

export interface CausalConv1dStepArgs extends CallOptions {
  batch: number;
  dim: number;
  width: number;
  /** Updated in place, only once the step has succeeded. */
  state: Float32Array;
  x: Float32Array;
  weight: Float32Array;
  bias?: Float32Array;
  silu: boolean;
}

export type FftConvAlgorithm = 'auto' | 'fft' | 'direct';

export interface FftConvArgs extends CallOptions {
  batch: number;
  channels: number;
  seqlen: number;
  kernelLen: number;
  u: Float32Array;
  /** Absent when `spectrum` (from this backend's fftConvSpectrum) is given. */
  k?: Float32Array;
  spectrum?: unknown;
  D?: Float32Array;
  algorithm: FftConvAlgorithm;
}

export interface FftConvSpectrumArgs extends CallOptions {
  channels: number;
  seqlen: number;
  kernelLen: number;
  k: Float32Array;
}

export type SsdAlgorithm = 'auto' | 'chunked' | 'recurrent';

export interface SsdScanArgs extends CallOptions {
  batch: number;
  seqlen: number;
  heads: number;
  headDim: number;
  groups: number;
  dstate: number;
  x: Float32Array;
  dt: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  /** [H], or [H, P] when its length is heads·headDim (and headDim > 1). */
  D?: Float32Array;
  z?: Float32Array;
  dtBias?: Float32Array;
  initialState?: Float32Array;
  dtSoftplus: boolean;
  dtMin: number;
  dtMax: number;
  chunkSize: number;
  algorithm: SsdAlgorithm;
  returnFinalState: boolean;
}

export interface SsdScanOutputs {
  y: Float32Array;
  finalState?: Float32Array;
}

export interface SsdScanStepArgs extends CallOptions {
  batch: number;
  heads: number;
  headDim: number;
  groups: number;
  dstate: number;
  /** Updated in place, only once the step has succeeded. */
  state: Float32Array;
  x: Float32Array;
  dt: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  D?: Float32Array;
  z?: Float32Array;
  dtBias?: Float32Array;
  dtSoftplus: boolean;
  dtMin: number;
  dtMax: number;
}

/** A tensor as a backend with device memory takes it: host data (of the call's dtype) or a device tensor. */
export type Operand = Float32Array | Uint16Array | DeviceTensor;

/** `T` with every Float32Array field also allowed to be an Operand. */
export type WithOperands<T> = {
  [K in keyof T]: T[K] extends Float32Array ? Operand : T[K] extends Float32Array | undefined ? Operand | undefined : T[K];
};

/** What a call on device-capable backends adds: the storage dtype, and where the outputs go. */
export interface DeviceCallOptions {
  storage: DType;
  outputsOnDevice: boolean;
}

/** Device memory and the ops that run on it (the cuda backend). */
export interface DeviceSupport {
  /** Copies host data to a new device tensor. */
  upload(data: Float32Array | Uint16Array, dtype: DType, shape: readonly number[]): Promise<DeviceTensor>;
  /** Copies a device tensor's data back. */
  download(t: DeviceTensor): Promise<Float32Array | Uint16Array>;
  selectiveScan(args: WithOperands<SelectiveScanArgs> & DeviceCallOptions): Promise<{ y: Operand; finalState?: Operand }>;
  selectiveScanStep(args: WithOperands<SelectiveScanStepArgs> & DeviceCallOptions): Promise<{ y: Operand }>;
  causalConv1d(args: WithOperands<CausalConv1dArgs> & DeviceCallOptions): Promise<{ y: Operand; finalState?: Operand }>;
  causalConv1dStep(args: WithOperands<CausalConv1dStepArgs> & DeviceCallOptions): Promise<{ y: Operand }>;
  deltaRule(args: WithOperands<DeltaRuleArgs> & DeviceCallOptions): Promise<{ o: Operand; finalState?: Operand }>;
  deltaRuleStep(args: WithOperands<DeltaRuleStepArgs> & DeviceCallOptions): Promise<{ o: Operand }>;
  fftConv(args: WithOperands<FftConvArgs> & DeviceCallOptions): Promise<{ y: Operand }>;
  /** A plan's spectrum (float32), kept on the device; `storage` is k's dtype. */
  fftConvSpectrum(args: WithOperands<FftConvSpectrumArgs> & { storage: DType }): Promise<DeviceTensor>;
  /** dPerDim: D is [H, P] rather than [H]. */
  ssdScan(args: WithOperands<SsdScanArgs> & DeviceCallOptions & { dPerDim: boolean }): Promise<{ y: Operand; finalState?: Operand }>;
  ssdScanStep(args: WithOperands<SsdScanStepArgs> & DeviceCallOptions & { dPerDim: boolean }): Promise<{ y: Operand }>;
}

export interface Backend {
  readonly name: BackendName;
  /** Present on backends with device memory (cuda): ops that take device tensors or bfloat16 run there. */
  readonly device?: DeviceSupport;
  /** CPU threads the kernels use (1 for js and single-threaded wasm). */
  readonly threads: number;
  /** Details for humans: SIMD target, build, device. */
  readonly description: string;
  /**
   * The SIMD instruction set the CPU kernels run: Highway's name for it ('AVX2', 'AVX3', 'NEON', 'WASM', ...), or
   * 'WASM relaxed-SIMD' for the relaxed-SIMD WebAssembly build; null for the js backend.
   */
  readonly simdTarget: string | null;
  selectiveScan(args: SelectiveScanArgs): Promise<SelectiveScanOutputs>;
  selectiveScanStep(args: SelectiveScanStepArgs): Promise<{ y: Float32Array }>;
  deltaRule(args: DeltaRuleArgs): Promise<DeltaRuleOutputs>;
  deltaRuleStep(args: DeltaRuleStepArgs): Promise<{ o: Float32Array }>;
  causalConv1d(args: CausalConv1dArgs): Promise<CausalConv1dOutputs>;
  causalConv1dStep(args: CausalConv1dStepArgs): Promise<{ y: Float32Array }>;
  linear(args: LinearArgs): Promise<{ y: Float32Array }>;
  /**
   * Mamba blocks' decode step fused, where the backend has it (native: one call instead of six per block, see
   * native/cpu/mamba_blocks_step.cc); elsewhere ops/mambaBlocksStep.ts composes it from the ops above.
   */
  mambaBlocksStep?(args: MambaBlocksStepArgs): Promise<{ y: Float32Array }>;
  fftConv(args: FftConvArgs): Promise<{ y: Float32Array }>;
  /** The kernel's precomputed form for repeated fftConv calls; opaque, only this backend reads it. */
  fftConvSpectrum(args: FftConvSpectrumArgs): Promise<unknown>;
  ssdScan(args: SsdScanArgs): Promise<SsdScanOutputs>;
  ssdScanStep(args: SsdScanStepArgs): Promise<{ y: Float32Array }>;
}

export interface InitOptions {
  /** Pin a backend; without it the best available one is used ('cuda' > 'native' > 'wasm' > 'js'). */
  backend?: BackendName;
  /** CPU threads for native kernels; default all cores. */
  threads?: number;
  /** Where to fetch longseq.wasm from (default: next to the module's JS, found through import.meta.url). */
  wasmPath?: string | URL;
  /** The bytes of longseq.wasm, for hosts that load it themselves. */
  wasmBinary?: ArrayBuffer | Uint8Array;
  /**
   * Which WASM build: 'relaxed' has fused multiply-adds (relaxed SIMD: Chrome and Edge 114+, Node 20+), 20-30%
   * faster; 'simd128' runs on every engine with WebAssembly SIMD. Default: 'relaxed' where the engine has it. In
   * Node 20, whose V8 has it behind --experimental-wasm-relaxed-simd, init() turns that flag on unless this is
   * 'simd128'. Ignored with wasmBinary (the bytes are one build or the other).
   */
  wasmSimd?: 'relaxed' | 'simd128';
}

/** Loads one backend, or throws an Error saying why it cannot load here. */
export interface BackendLoader {
  readonly name: BackendName;
  load(options: InitOptions): Promise<Backend>;
}

export interface BackendStatus {
  name: BackendName;
  available: boolean;
  /** Why it is not available (absent when it is). */
  reason?: string;
  description?: string;
}

/** Thrown by `init({ backend })` when the pinned backend cannot load here. */
export class BackendUnavailableError extends Error {
  constructor(name: BackendName, reason: string) {
    super(`longseq: backend '${name}' is not available: ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

const NOT_IN_THIS_BUILD: Record<BackendName, string> = {
  cuda: 'CUDA is only reachable from the Node.js entry point (through the native addon)',
  native: 'the native addon is only loaded by the Node.js entry point',
  wasm: 'not part of this entry point',
  js: 'not part of this entry point',
};

/** Picks and loads a backend from the loaders an entry point provides. */
export async function loadBackend(loaders: readonly BackendLoader[], options: InitOptions): Promise<Backend> {
  if (options.threads !== undefined && !(Number.isSafeInteger(options.threads) && options.threads >= 1)) {
    throw new RangeError(`init: threads must be an integer >= 1, got ${String(options.threads)}`);
  }
  if (options.wasmSimd !== undefined && options.wasmSimd !== 'relaxed' && options.wasmSimd !== 'simd128') {
    throw new TypeError(`init: wasmSimd must be 'relaxed' or 'simd128', got ${String(options.wasmSimd)}`);
  }
  if (options.backend !== undefined) {
    if (!BACKEND_PREFERENCE.includes(options.backend)) {
      throw new TypeError(`init: backend must be one of ${BACKEND_PREFERENCE.join(', ')}, got ${String(options.backend)}`);
    }
    const loader = loaders.find((l) => l.name === options.backend);
    if (!loader) throw new BackendUnavailableError(options.backend, NOT_IN_THIS_BUILD[options.backend]);
    try {
      return await loader.load(options);
    } catch (e) {
      throw new BackendUnavailableError(options.backend, (e as Error).message);
    }
  }
  const failures: string[] = [];
  for (const name of BACKEND_PREFERENCE) {
    const loader = loaders.find((l) => l.name === name);
    if (!loader) continue;
    try {
      return await loader.load(options);
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`longseq: no backend could be loaded (${failures.join('; ')})`);
}

/** Which backends load here, and why the others do not. */
export async function backendStatus(loaders: readonly BackendLoader[], options: InitOptions = {}): Promise<BackendStatus[]> {
  const result: BackendStatus[] = [];
  for (const name of BACKEND_PREFERENCE) {
    const loader = loaders.find((l) => l.name === name);
    if (!loader) {
      result.push({ name, available: false, reason: NOT_IN_THIS_BUILD[name] });
      continue;
    }
    try {
      const backend = await loader.load(options);
      result.push({ name, available: true, description: backend.description });
    } catch (e) {
      result.push({ name, available: false, reason: (e as Error).message });
    }
  }
  return result;
}
