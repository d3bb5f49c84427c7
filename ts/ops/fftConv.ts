/**
 * fftConv — long causal convolution (Hyena's `fftconv`), and plans for fixed filters.
 *
 *   y[b,h,t] = Σ_{s=0..min(t, Lk−1)} k[h,s]·u[b,h,t−s] + D[h]·u[b,h,t]
 * Native and wasm use an FFT of size ≥ L + Lk − 1 (any L), or direct summation for short kernels where it is
 * faster (`algorithm: 'auto'`, the default); cuda always uses the FFT (L + Lk − 1 ≤ 2^24 there); the js reference
 * sums directly in float64.
 *
 * A model applies the same filter k to every input: `ls.fftConvPlan({ k, L })` transforms it once, and
 * `plan.run({ u, D })` then skips the kernel's FFT. On cuda the plan's spectrum stays in GPU memory
 * (`plan.dispose()` frees it; a FinalizationRegistry does eventually otherwise).
 */
import type { Backend, FftConvAlgorithm, Operand } from '../backend.js';
import { DeviceTensor } from '../device.js';
import type { Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { hostFloats, validateFftConv, validateFftConvPlan, validateFftConvRun, type FftConvOperands } from '../validate.js';
import type { FftConvArgs, FftConvSpectrumArgs } from '../backend.js';
import { inStorage, outputTensor, type FloatInput, type OutputLike, type ScanInput } from './selectiveScan.js';

/**
 * U: the type of u and k, float32 or bfloat16 (cuda computes in float32 from bfloat16 storage; the CPU
 * backends widen it and round y back), on the host or the device; F: the type of D (float32).
 */
export interface FftConvParams<U extends ScanInput = Tensor, F extends FloatInput = Tensor> {
  /** Input, [B, H, L]. */
  u: U;
  /** Causal filter, [H, Lk], Lk <= L; u's dtype. */
  k: U;
  /** Skip term, [H]. */
  D?: F;
  /** 'fft', 'direct', or 'auto' (default): the same result, different speed. */
  algorithm?: FftConvAlgorithm;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface FftConvPlanParams<K extends ScanInput = Tensor> {
  /** Causal filter, [H, Lk], float32 or bfloat16. */
  k: K;
  /** The sequence length the plan serves (Lk <= L). */
  L: number;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface FftConvRunParams<U extends ScanInput = Tensor, F extends FloatInput = Tensor> {
  /** [B, H, L], with the plan's H and L; float32 or bfloat16, whatever the plan's filter was. */
  u: U;
  /** [H] */
  D?: F;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** y, u's dtype, on the device when u is. */
export interface FftConvResult<Y = Tensor> {
  y: Y;
}

/** Runs checked args on the backend: on its device when it has one, else on host copies. */
async function run(backend: Backend, op: string, a: FftConvOperands, signal: AbortSignal | undefined): Promise<Tensor | Tensor<'bfloat16'> | DeviceTensor> {
  const { onDevice, storage, ...args } = a;
  let y: Operand;
  if (backend.device) {
    const device = backend.device;
    y = (await cancellable(signal, () => device.fftConv({ ...args, storage, outputsOnDevice: onDevice }))).y;
  } else {
    const host = hostFloats<FftConvArgs>(op, backend.name, args);
    const out = (await cancellable(signal, (cancel) => backend.fftConv({ ...host, cancel }))).y;
    y = inStorage(out, storage);
  }
  return outputTensor(y, storage, [a.batch, a.channels, a.seqlen]);
}

export async function fftConv(backend: Backend, params: FftConvParams<ScanInput, FloatInput>): Promise<FftConvResult<Tensor | Tensor<'bfloat16'> | DeviceTensor>> {
  const a = validateFftConv(params);
  return { y: await run(backend, 'fftConv', a, checkSignal('fftConv', params.signal)) };
}

/** A filter transformed once for one sequence length; reusable for any batch. */
export class FftConvPlan {
  readonly #backend: Backend;
  readonly #spectrum: unknown;
  /** Channels H, filter length Lk, sequence length L. */
  readonly channels: number;
  readonly kernelLength: number;
  readonly length: number;

  constructor(backend: Backend, spectrum: unknown, channels: number, kernelLength: number, length: number) {
    this.#backend = backend;
    this.#spectrum = spectrum;
    this.channels = channels;
    this.kernelLength = kernelLength;
    this.length = length;
  }

  /** fftConv of u with the plan's filter; the same result as ls.fftConv({ u, k, D }). */
  async run<U extends ScanInput = Tensor, F extends FloatInput = Tensor>(params: FftConvRunParams<U, F>): Promise<FftConvResult<OutputLike<U>>>;
  async run(params: FftConvRunParams<ScanInput, FloatInput>): Promise<FftConvResult<Tensor | Tensor<'bfloat16'> | DeviceTensor>> {
    const a = validateFftConvRun(params, this.channels, this.length);
    if (this.#spectrum instanceof DeviceTensor && this.#spectrum.disposed) throw new TypeError('fftConvPlan.run: the plan was disposed');
    const args: FftConvOperands = {
      ...a, channels: this.channels, seqlen: this.length, kernelLen: this.kernelLength, spectrum: this.#spectrum, algorithm: 'fft',
    };
    return { y: await run(this.#backend, 'fftConvPlan.run', args, checkSignal('fftConvPlan.run', params.signal)) };
  }

  /** Frees the spectrum's device memory (cuda); later runs throw. Nothing to do on the other backends. */
  dispose(): void {
    if (this.#spectrum instanceof DeviceTensor) this.#spectrum.dispose();
  }
}

export async function fftConvPlan(backend: Backend, params: FftConvPlanParams<ScanInput>): Promise<FftConvPlan> {
  const { storage, ...a } = validateFftConvPlan(params);
  const signal = checkSignal('fftConvPlan', params.signal);
  let spectrum: unknown;
  if (backend.device) {
    const device = backend.device;
    spectrum = await cancellable(signal, () => device.fftConvSpectrum({ ...a, storage }));
  } else {
    const host = hostFloats<FftConvSpectrumArgs>('fftConvPlan', backend.name, a);
    spectrum = await cancellable(signal, (cancel) => backend.fftConvSpectrum({ ...host, cancel }));
  }
  return new FftConvPlan(backend, spectrum, a.channels, a.kernelLen, a.seqlen);
}
