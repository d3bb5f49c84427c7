/**
 * The native backend: the C++ CPU kernels in the Node-API addon (build/Release/longseq.node). Each call runs
 * on libuv's thread pool (never on the event loop) and fans out over the kernels' own thread pool; the addon
 * makes the output arrays itself (see native/addon/marshal.cc for why).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type {
  Backend, BackendLoader, BackendName, LinearArgs, MambaBlocksStepArgs, SsdScanArgs, SsdScanOutputs, SsdScanStepArgs, FftConvArgs, FftConvSpectrumArgs, CausalConv1dArgs, CausalConv1dOutputs, CausalConv1dStepArgs, DeltaRuleArgs, DeltaRuleOutputs, DeltaRuleStepArgs, InitOptions, SelectiveScanArgs,
  SelectiveScanOutputs, SelectiveScanStepArgs,
} from '../backend.js';
import { DELTA_ALGORITHMS, FFT_CONV_ALGORITHMS, SSD_ALGORITHMS } from './codes.js';

/** What build/Release/longseq.node exports for the CPU kernels (native/addon/addon.cc). */
export interface Addon {
  hardwareThreads: number;
  simdTarget: string;
  selectiveScan(args: object): Promise<SelectiveScanOutputs>;
  selectiveScanStep(args: object): Promise<{ y: Float32Array }>;
  deltaRule(args: object): Promise<DeltaRuleOutputs>;
  deltaRuleStep(args: object): Promise<{ o: Float32Array }>;
  causalConv1d(args: object): Promise<CausalConv1dOutputs>;
  causalConv1dStep(args: object): Promise<{ y: Float32Array }>;
  linear(args: object): Promise<{ y: Float32Array }>;
  mambaBlocksStep(args: object): Promise<{ y: Float32Array }>;
  fftConv(args: object): Promise<{ y: Float32Array }>;
  fftConvSpectrum(args: object): Promise<{ spectrum: Float32Array }>;
  ssdScan(args: object): Promise<SsdScanOutputs>;
  ssdScanStep(args: object): Promise<{ y: Float32Array }>;
}

const ADDON_URL = new URL('../../build/Release/longseq.node', import.meta.url);
let addon: Addon | undefined;

export function loadAddon(): Addon {
  if (addon) return addon;
  const path = fileURLToPath(ADDON_URL);
  if (!existsSync(path)) throw new Error(`the addon is not built (${path} is missing); run 'npm run build'`);
  addon = createRequire(import.meta.url)(path) as Addon;
  return addon;
}

export class NativeBackend implements Backend {
  readonly name: BackendName = 'native';
  readonly threads: number;
  readonly description: string;
  readonly simdTarget: string;

  constructor(private readonly addon: Addon, threads: number) {
    this.threads = threads;
    this.simdTarget = addon.simdTarget;
    this.description = `C++ ${this.simdTarget}, ${threads} thread${threads === 1 ? '' : 's'}`;
  }

  selectiveScan(a: SelectiveScanArgs): Promise<SelectiveScanOutputs> {
    return this.addon.selectiveScan({ ...a, threads: this.threads });
  }

  selectiveScanStep(a: SelectiveScanStepArgs): Promise<{ y: Float32Array }> {
    return this.addon.selectiveScanStep({ ...a, threads: this.threads });
  }

  deltaRule(a: DeltaRuleArgs): Promise<DeltaRuleOutputs> {
    return this.addon.deltaRule({ ...a, algorithm: DELTA_ALGORITHMS[a.algorithm], threads: this.threads });
  }

  deltaRuleStep(a: DeltaRuleStepArgs): Promise<{ o: Float32Array }> {
    return this.addon.deltaRuleStep({ ...a, threads: this.threads });
  }

  causalConv1d(a: CausalConv1dArgs): Promise<CausalConv1dOutputs> {
    return this.addon.causalConv1d({ ...a, threads: this.threads });
  }

  causalConv1dStep(a: CausalConv1dStepArgs): Promise<{ y: Float32Array }> {
    return this.addon.causalConv1dStep({ ...a, threads: this.threads });
  }

  linear(a: LinearArgs): Promise<{ y: Float32Array }> {
    return this.addon.linear({ ...a, threads: this.threads });
  }

  mambaBlocksStep(a: MambaBlocksStepArgs): Promise<{ y: Float32Array }> {
    return this.addon.mambaBlocksStep({ ...a, threads: this.threads });
  }

  ssdScan(a: SsdScanArgs): Promise<SsdScanOutputs> {
    return this.addon.ssdScan({ ...a, algorithm: SSD_ALGORITHMS[a.algorithm], threads: this.threads });
  }

  ssdScanStep(a: SsdScanStepArgs): Promise<{ y: Float32Array }> {
    return this.addon.ssdScanStep({ ...a, threads: this.threads });
  }

  fftConv(a: FftConvArgs): Promise<{ y: Float32Array }> {
    return this.addon.fftConv({ ...a, algorithm: FFT_CONV_ALGORITHMS[a.algorithm], threads: this.threads });
  }

  async fftConvSpectrum(a: FftConvSpectrumArgs): Promise<unknown> {
    return (await this.addon.fftConvSpectrum({ ...a, threads: this.threads })).spectrum;
  }
}

export const nativeLoader: BackendLoader = {
  name: 'native',
  async load(options: InitOptions) {
    const a = loadAddon();
    return new NativeBackend(a, Math.min(options.threads ?? a.hardwareThreads, a.hardwareThreads));
  },
};
