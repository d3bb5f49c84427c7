/**
 * The cuda backend: the CUDA kernels in the same Node-API addon as the native backend (native/cuda/, built
 * when nvcc was found). The selective scan, the delta rule, the causal conv1d, fftConv and the SSD scan run on the GPU, with host tensors (copied in and
 * out) or device tensors (see device.ts); the ops without CUDA kernels yet run on the native CPU kernels, on host
 * tensors.
 *
 * Each GPU call runs on a libuv worker thread with its own CUDA stream and settles once its device work is
 * done, so the event loop never waits and concurrent calls overlap on the GPU.
 */
import type {
  BackendLoader, BackendName, CausalConv1dArgs, CausalConv1dOutputs, CausalConv1dStepArgs, DeltaRuleArgs, DeltaRuleOutputs, DeltaRuleStepArgs, DeviceCallOptions, DeviceSupport, FftConvArgs, FftConvSpectrumArgs, InitOptions, Operand, SelectiveScanArgs, SelectiveScanOutputs,
  SelectiveScanStepArgs, SsdScanArgs, SsdScanOutputs, SsdScanStepArgs, WithOperands,
} from '../backend.js';
import { DeviceTensor, type DeviceMemory } from '../device.js';
import { sizeOf, type DType } from '../tensor.js';
import { DELTA_ALGORITHMS, SSD_ALGORITHMS } from './codes.js';
import { loadAddon, NativeBackend, type Addon } from './native.js';

interface CudaDeviceInfo {
  name: string;
  computeCapability: string;
  multiprocessors: number;
  totalMemory: number;
  runtimeVersion: number;
  driverVersion: number;
}

type HostOrHandle = Float32Array | Uint16Array | object;

/** The CUDA part of the addon (native/addon/cuda.cc, selective_scan_cuda.cc). */
interface CudaAddon extends Addon {
  cudaDevice(): CudaDeviceInfo;
  cudaUpload(data: Float32Array | Uint16Array): Promise<{ handle: object }>;
  cudaDownload(handle: object, bfloat16: boolean, elements: number): Promise<{ data: Float32Array | Uint16Array }>;
  cudaFree(handle: object): void;
  cudaSelectiveScan(args: object): Promise<{ y: HostOrHandle; finalState?: HostOrHandle }>;
  cudaSelectiveScanStep(args: object): Promise<{ y: HostOrHandle }>;
  cudaCausalConv1d(args: object): Promise<{ y: HostOrHandle; finalState?: HostOrHandle }>;
  cudaCausalConv1dStep(args: object): Promise<{ y: HostOrHandle }>;
  cudaDeltaRule(args: object): Promise<{ o: HostOrHandle; finalState?: HostOrHandle }>;
  cudaDeltaRuleStep(args: object): Promise<{ o: HostOrHandle }>;
  cudaFftConv(args: object): Promise<{ y: HostOrHandle }>;
  cudaFftConvSpectrum(args: object): Promise<{ spectrum: object }>;
  cudaSsdScan(args: object): Promise<{ y: HostOrHandle; finalState?: HostOrHandle }>;
  cudaSsdScanStep(args: object): Promise<{ y: HostOrHandle }>;
}

function version(v: number): string {
  return `${Math.floor(v / 1000)}.${(v % 1000) / 10}`;
}

/** Device tensors become the addon's handles; host data passes as is. */
function handles(op: string, args: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    out[key] = value instanceof DeviceTensor ? value.handleFor(op, key) : value;
  }
  return out;
}

/** Whether host args' D is [H, P] (its length says so, as the CPU addon reads it) rather than [H]. */
function skipPerDim(a: { D?: Float32Array; heads: number; headDim: number }): boolean {
  return a.D !== undefined && a.headDim > 1 && a.D.length === a.heads * a.headDim;
}

class CudaDevice implements DeviceSupport {
  readonly memory: DeviceMemory;

  constructor(private readonly addon: CudaAddon) {
    this.memory = { free: (handle) => addon.cudaFree(handle) };
  }

  async upload(data: Float32Array | Uint16Array, dtype: DType, shape: readonly number[]): Promise<DeviceTensor> {
    const { handle } = await this.addon.cudaUpload(data);
    return new DeviceTensor(dtype, shape, handle, this.memory);
  }

  async download(t: DeviceTensor): Promise<Float32Array | Uint16Array> {
    const handle = t.handleFor('toHost', 'd');
    return (await this.addon.cudaDownload(handle, t.dtype === 'bfloat16', sizeOf(t.shape))).data;
  }

  /** An output: a handle becomes a device tensor of the given dtype and shape. */
  private output(value: HostOrHandle, dtype: DType, shape: readonly number[]): Operand {
    if (value instanceof Float32Array || value instanceof Uint16Array) return value;
    return new DeviceTensor(dtype, shape, value, this.memory);
  }

  async selectiveScan(a: WithOperands<SelectiveScanArgs> & DeviceCallOptions): Promise<{ y: Operand; finalState?: Operand }> {
    const { cancel: _ignored, ...rest } = a;  // a kernel launch cannot stop halfway
    const out = await this.addon.cudaSelectiveScan({ ...handles('selectiveScan', rest), storage: a.storage === 'bfloat16' ? 1 : 0 });
    const result: { y: Operand; finalState?: Operand } = { y: this.output(out.y, a.storage, [a.batch, a.dim, a.seqlen]) };
    if (out.finalState) result.finalState = this.output(out.finalState, 'float32', [a.batch, a.dim, a.dstate]);
    return result;
  }

  async selectiveScanStep(a: WithOperands<SelectiveScanStepArgs> & DeviceCallOptions): Promise<{ y: Operand }> {
    const { cancel: _ignored, ...rest } = a;
    const out = await this.addon.cudaSelectiveScanStep({ ...handles('selectiveScanStep', rest), storage: a.storage === 'bfloat16' ? 1 : 0 });
    return { y: this.output(out.y, a.storage, [a.batch, a.dim]) };
  }

  async causalConv1d(a: WithOperands<CausalConv1dArgs> & DeviceCallOptions): Promise<{ y: Operand; finalState?: Operand }> {
    const { cancel: _ignored, ...rest } = a;
    const out = await this.addon.cudaCausalConv1d(handles('causalConv1d', rest));
    const result: { y: Operand; finalState?: Operand } = { y: this.output(out.y, 'float32', [a.batch, a.dim, a.seqlen]) };
    if (out.finalState) result.finalState = this.output(out.finalState, 'float32', [a.batch, a.dim, a.width - 1]);
    return result;
  }

  async causalConv1dStep(a: WithOperands<CausalConv1dStepArgs> & DeviceCallOptions): Promise<{ y: Operand }> {
    const { cancel: _ignored, ...rest } = a;
    const out = await this.addon.cudaCausalConv1dStep(handles('causalConv1dStep', rest));
    return { y: this.output(out.y, 'float32', [a.batch, a.dim]) };
  }

  async deltaRule(a: WithOperands<DeltaRuleArgs> & DeviceCallOptions): Promise<{ o: Operand; finalState?: Operand }> {
    const { cancel: _ignored, ...rest } = a;
    const out = await this.addon.cudaDeltaRule({
      ...handles('deltaRule', rest), algorithm: DELTA_ALGORITHMS[a.algorithm], storage: a.storage === 'bfloat16' ? 1 : 0,
    });
    const result: { o: Operand; finalState?: Operand } = { o: this.output(out.o, a.storage, [a.batch, a.seqlen, a.valueHeads, a.valueDim]) };
    if (out.finalState) result.finalState = this.output(out.finalState, 'float32', [a.batch, a.valueHeads, a.keyDim, a.valueDim]);
    return result;
  }

  async deltaRuleStep(a: WithOperands<DeltaRuleStepArgs> & DeviceCallOptions): Promise<{ o: Operand }> {
    const { cancel: _ignored, ...rest } = a;
    const out = await this.addon.cudaDeltaRuleStep({ ...handles('deltaRuleStep', rest), storage: a.storage === 'bfloat16' ? 1 : 0 });
    return { o: this.output(out.o, a.storage, [a.batch, a.valueHeads, a.valueDim]) };
  }

  async fftConv(a: WithOperands<FftConvArgs> & DeviceCallOptions): Promise<{ y: Operand }> {
    const { cancel: _ignored, algorithm: _fft, ...rest } = a;  // the GPU always takes the FFT path
    const out = await this.addon.cudaFftConv({ ...handles('fftConv', rest), storage: a.storage === 'bfloat16' ? 1 : 0 });
    return { y: this.output(out.y, a.storage, [a.batch, a.channels, a.seqlen]) };
  }

  async fftConvSpectrum(a: WithOperands<FftConvSpectrumArgs> & { storage: DType }): Promise<DeviceTensor> {
    const { cancel: _ignored, ...rest } = a;
    const { spectrum } = await this.addon.cudaFftConvSpectrum({ ...handles('fftConvPlan', rest), storage: a.storage === 'bfloat16' ? 1 : 0 });
    // (H + 1) / 2 pairs of channels, n complex values each (ls_fft_conv_spectrum_floats_cuda)
    let n = 2;
    while (n < a.seqlen + a.kernelLen - 1) n *= 2;
    return new DeviceTensor('float32', [Math.ceil(a.channels / 2), n, 2], spectrum, this.memory);
  }

  async ssdScan(a: WithOperands<SsdScanArgs> & DeviceCallOptions & { dPerDim: boolean }): Promise<{ y: Operand; finalState?: Operand }> {
    const { cancel: _ignored, ...rest } = a;
    const out = await this.addon.cudaSsdScan({
      ...handles('ssdScan', rest), algorithm: SSD_ALGORITHMS[a.algorithm], storage: a.storage === 'bfloat16' ? 1 : 0,
    });
    const result: { y: Operand; finalState?: Operand } = { y: this.output(out.y, a.storage, [a.batch, a.seqlen, a.heads, a.headDim]) };
    if (out.finalState) result.finalState = this.output(out.finalState, 'float32', [a.batch, a.heads, a.headDim, a.dstate]);
    return result;
  }

  async ssdScanStep(a: WithOperands<SsdScanStepArgs> & DeviceCallOptions & { dPerDim: boolean }): Promise<{ y: Operand }> {
    const { cancel: _ignored, ...rest } = a;
    const out = await this.addon.cudaSsdScanStep({ ...handles('ssdScanStep', rest), storage: a.storage === 'bfloat16' ? 1 : 0 });
    return { y: this.output(out.y, a.storage, [a.batch, a.heads, a.headDim]) };
  }
}

/** The GPU ops on the CUDA kernels; the others inherited from the native backend (CPU). */
class CudaBackend extends NativeBackend {
  override readonly name: BackendName = 'cuda';
  override readonly description: string;
  readonly device: CudaDevice;

  constructor(addon: CudaAddon, info: CudaDeviceInfo, threads: number) {
    super(addon, threads);
    this.device = new CudaDevice(addon);
    this.description =
      `CUDA on ${info.name} (compute ${info.computeCapability}, ${info.multiprocessors} SMs, ` +
      `${(info.totalMemory / 2 ** 30).toFixed(0)} GiB, CUDA runtime ${version(info.runtimeVersion)}, driver ${version(info.driverVersion)}); ` +
      `ops without CUDA kernels on C++ ${addon.simdTarget}, ${threads} thread${threads === 1 ? '' : 's'}`;
  }

  override async selectiveScan(a: SelectiveScanArgs): Promise<SelectiveScanOutputs> {
    return (await this.device.selectiveScan({ ...a, storage: 'float32', outputsOnDevice: false })) as SelectiveScanOutputs;
  }

  override async selectiveScanStep(a: SelectiveScanStepArgs): Promise<{ y: Float32Array }> {
    return (await this.device.selectiveScanStep({ ...a, storage: 'float32', outputsOnDevice: false })) as { y: Float32Array };
  }

  override async causalConv1d(a: CausalConv1dArgs): Promise<CausalConv1dOutputs> {
    return (await this.device.causalConv1d({ ...a, storage: 'float32', outputsOnDevice: false })) as CausalConv1dOutputs;
  }

  override async causalConv1dStep(a: CausalConv1dStepArgs): Promise<{ y: Float32Array }> {
    return (await this.device.causalConv1dStep({ ...a, storage: 'float32', outputsOnDevice: false })) as { y: Float32Array };
  }

  override async deltaRule(a: DeltaRuleArgs): Promise<DeltaRuleOutputs> {
    return (await this.device.deltaRule({ ...a, storage: 'float32', outputsOnDevice: false })) as DeltaRuleOutputs;
  }

  override async deltaRuleStep(a: DeltaRuleStepArgs): Promise<{ o: Float32Array }> {
    return (await this.device.deltaRuleStep({ ...a, storage: 'float32', outputsOnDevice: false })) as { o: Float32Array };
  }

  override async fftConv(a: FftConvArgs): Promise<{ y: Float32Array }> {
    return (await this.device.fftConv({ ...a, storage: 'float32', outputsOnDevice: false })) as { y: Float32Array };
  }

  override async fftConvSpectrum(a: FftConvSpectrumArgs): Promise<unknown> {
    return this.device.fftConvSpectrum({ ...a, storage: 'float32' });
  }

  override async ssdScan(a: SsdScanArgs): Promise<SsdScanOutputs> {
    return (await this.device.ssdScan({ ...a, dPerDim: skipPerDim(a), storage: 'float32', outputsOnDevice: false })) as SsdScanOutputs;
  }

  override async ssdScanStep(a: SsdScanStepArgs): Promise<{ y: Float32Array }> {
    return (await this.device.ssdScanStep({ ...a, dPerDim: skipPerDim(a), storage: 'float32', outputsOnDevice: false })) as { y: Float32Array };
  }
}

export const cudaLoader: BackendLoader = {
  name: 'cuda',
  async load(options: InitOptions) {
    const addon = loadAddon() as CudaAddon;
    const info = addon.cudaDevice();  // throws, saying why, where CUDA cannot run
    return new CudaBackend(addon, info, Math.min(options.threads ?? addon.hardwareThreads, addon.hardwareThreads));
  },
};
