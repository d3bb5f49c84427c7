/** The object `init()` resolves to: the ops, bound to one backend. */
import { backendStatus, loadBackend, type Backend, type BackendLoader, type BackendName, type BackendStatus, type InitOptions } from './backend.js';
import {
  selectiveScan, type FloatInput, type OutputLike, type ScanInput, type SelectiveScanParams, type SelectiveScanResult, type StateLike,
} from './ops/selectiveScan.js';
import { selectiveScanStep, type SelectiveScanStepParams } from './ops/selectiveScanStep.js';
import { deltaRule, type DeltaRuleParams, type DeltaRuleResult } from './ops/deltaRule.js';
import { deltaRuleStep, type DeltaRuleStepParams } from './ops/deltaRuleStep.js';
import { causalConv1d, type CausalConv1dParams, type CausalConv1dResult } from './ops/causalConv1d.js';
import { causalConv1dStep, type CausalConv1dStepParams } from './ops/causalConv1dStep.js';
import { fftConv, fftConvPlan, type FftConvParams, type FftConvPlan, type FftConvPlanParams, type FftConvResult } from './ops/fftConv.js';
import { ssdScan, type SsdScanParams, type SsdScanResult } from './ops/ssdScan.js';
import { ssdScanStep, type SsdScanStepParams } from './ops/ssdScanStep.js';
import { linear, type LinearParams } from './ops/linear.js';
import { mambaBlocksStep, type MambaBlocksStepParams } from './ops/mambaBlocksStep.js';
import { tensor, type DType, type Tensor } from './tensor.js';
import { DeviceTensor } from './device.js';
import { checkOperand } from './validate.js';

export class LongSeq {
  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** The backend the ops run on. */
  get backend(): BackendName {
    return this.#backend.name;
  }

  /** CPU threads the kernels use. */
  get threads(): number {
    return this.#backend.threads;
  }

  /** A human-readable description of the backend (SIMD target, threads). */
  get description(): string {
    return this.#backend.description;
  }

  /**
   * The SIMD instruction set the CPU kernels run ('AVX2', 'AVX3', 'WASM', 'WASM relaxed-SIMD', ...; on cuda, that of
   * the ops without CUDA kernels); null on js.
   */
  get simdTarget(): string | null {
    return this.#backend.simdTarget;
  }

  /** Mamba-1 selective scan; see ops/selectiveScan.ts. y follows u: its dtype, and the device when u is there. */
  selectiveScan<P extends SelectiveScanParams<ScanInput, FloatInput>>(params: P): Promise<SelectiveScanResult<OutputLike<P['u']>, StateLike<P['u']>>> {
    return selectiveScan(this.#backend, params) as Promise<SelectiveScanResult<OutputLike<P['u']>, StateLike<P['u']>>>;
  }

  /** One decode step; updates `params.state` in place. y follows x. */
  selectiveScanStep<P extends SelectiveScanStepParams<ScanInput, FloatInput>>(params: P): Promise<{ y: OutputLike<P['x']> }> {
    return selectiveScanStep(this.#backend, params) as Promise<{ y: OutputLike<P['x']> }>;
  }

  /**
   * Copies a host tensor (float32 or bfloat16) to the GPU (cuda backend). Free it with `dispose()` when done;
   * see device.ts.
   */
  async toDevice<D extends DType>(t: Tensor<D>): Promise<DeviceTensor<D>> {
    const device = this.#backend.device;
    if (!device) {
      throw new TypeError(`toDevice: the '${this.#backend.name}' backend has no device memory; use init({ backend: 'cuda' })`);
    }
    if (t instanceof DeviceTensor) throw new TypeError('toDevice: t is already a device tensor');
    const shape = (t as Partial<Tensor<D>> | null)?.shape;
    const checked = checkOperand('toDevice', 't', t, [Array.isArray(shape) ? shape.length : 0], true);
    return (await device.upload(checked.operand as Float32Array | Uint16Array, checked.dtype, checked.shape)) as DeviceTensor<D>;
  }

  /** Copies a device tensor back to a new host tensor of its dtype. */
  async toHost<D extends DType>(d: DeviceTensor<D>): Promise<Tensor<D>> {
    const device = this.#backend.device;
    if (!(d instanceof DeviceTensor)) throw new TypeError('toHost: d must be a DeviceTensor (from ls.toDevice or an op)');
    if (!device) throw new TypeError(`toHost: the '${this.#backend.name}' backend has no device memory`);
    d.handleFor('toHost', 'd');
    const data = await device.download(d);
    return (d.dtype === 'bfloat16' ? tensor(data as Uint16Array, d.shape, 'bfloat16') : tensor(data as Float32Array, d.shape)) as Tensor<D>;
  }

  /** DeltaNet / Gated DeltaNet; see ops/deltaRule.ts. */
  deltaRule<P extends DeltaRuleParams<ScanInput, FloatInput>>(params: P): Promise<DeltaRuleResult<OutputLike<P['q']>, StateLike<P['q']>>> {
    return deltaRule(this.#backend, params) as Promise<DeltaRuleResult<OutputLike<P['q']>, StateLike<P['q']>>>;
  }

  /** One decode token of the delta rule; updates `params.state` in place. */
  deltaRuleStep<P extends DeltaRuleStepParams<ScanInput, FloatInput>>(params: P): Promise<{ o: OutputLike<P['q']> }> {
    return deltaRuleStep(this.#backend, params) as Promise<{ o: OutputLike<P['q']> }>;
  }

  /** Short causal depthwise convolution; see ops/causalConv1d.ts. y and finalState follow x onto the device. */
  causalConv1d<P extends CausalConv1dParams<FloatInput, FloatInput>>(params: P): Promise<CausalConv1dResult<OutputLike<P['x']>>> {
    return causalConv1d(this.#backend, params) as Promise<CausalConv1dResult<OutputLike<P['x']>>>;
  }

  /** One decode token of causalConv1d; updates `params.state` in place. y follows x. */
  causalConv1dStep<P extends CausalConv1dStepParams<FloatInput, FloatInput>>(params: P): Promise<{ y: OutputLike<P['x']> }> {
    return causalConv1dStep(this.#backend, params) as Promise<{ y: OutputLike<P['x']> }>;
  }

  /** Mamba-2's SSD scan; see ops/ssdScan.ts. y and finalState follow x onto the device. */
  ssdScan<P extends SsdScanParams<ScanInput, FloatInput>>(params: P): Promise<SsdScanResult<OutputLike<P['x']>, StateLike<P['x']>>> {
    return ssdScan(this.#backend, params) as Promise<SsdScanResult<OutputLike<P['x']>, StateLike<P['x']>>>;
  }

  /** One decode token of ssdScan; updates `params.state` in place. y follows x. */
  ssdScanStep<P extends SsdScanStepParams<ScanInput, FloatInput>>(params: P): Promise<{ y: OutputLike<P['x']> }> {
    return ssdScanStep(this.#backend, params) as Promise<{ y: OutputLike<P['x']> }>;
  }

  /** A linear layer, y = x·weightᵀ + bias; see ops/linear.ts. */
  linear(params: LinearParams): Promise<{ y: Tensor }> {
    return linear(this.#backend, params);
  }

  /** One decode token through consecutive Mamba blocks, fused where the backend can; see ops/mambaBlocksStep.ts. */
  mambaBlocksStep(params: MambaBlocksStepParams): Promise<{ y: Tensor }> {
    return mambaBlocksStep(this.#backend, params);
  }

  /** Long causal convolution; see ops/fftConv.ts. */
  fftConv<P extends FftConvParams<ScanInput, FloatInput>>(params: P): Promise<FftConvResult<OutputLike<P['u']>>> {
    return fftConv(this.#backend, params) as Promise<FftConvResult<OutputLike<P['u']>>>;
  }

  /** A fixed filter transformed once: `(await ls.fftConvPlan({ k, L })).run({ u, D })`. */
  fftConvPlan(params: FftConvPlanParams<ScanInput>): Promise<FftConvPlan> {
    return fftConvPlan(this.#backend, params);
  }
}

/** init() and available() over the backends an entry point offers. */
export function createEntry(loaders: readonly BackendLoader[]): {
  init(options?: InitOptions): Promise<LongSeq>;
  available(options?: InitOptions): Promise<BackendStatus[]>;
} {
  return {
    async init(options: InitOptions = {}) {
      return new LongSeq(await loadBackend(loaders, options));
    },
    available(options: InitOptions = {}) {
      return backendStatus(loaders, options);
    },
  };
}
