/**
 * fftConv — long causal convolution (Hyena's `fftconv`), and plans for fixed filters.
 *
 *   y[b,h,t] = Σ_{s=0..min(t, Lk−1)} k[h,s]·u[b,h,t−s] + D[h]·u[b,h,t]
 * Native and wasm use an FFT of size ≥ L + Lk − 1 (any L), or direct summation for short kernels where it is
 * faster (`algorithm: 'auto'`, the default); the js reference sums directly in float64.
 *
 * A model applies the same filter k to every input: `ls.fftConvPlan({ k, L })` transforms it once, and
 * `plan.run({ u, D })` then skips the kernel's FFT.
 */
import type { Backend, FftConvAlgorithm } from '../backend.js';
import { tensor, type Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { validateFftConv, validateFftConvPlan, validateFftConvRun } from '../validate.js';

export interface FftConvParams {
  /** Input, [B, H, L]. */
  u: Tensor;
  /** Causal filter, [H, Lk], Lk <= L. */
  k: Tensor;
  /** Skip term, [H]. */
  D?: Tensor;
  /** 'fft', 'direct', or 'auto' (default): the same result, different speed. */
  algorithm?: FftConvAlgorithm;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface FftConvPlanParams {
  /** Causal filter, [H, Lk]. */
  k: Tensor;
  /** The sequence length the plan serves (Lk <= L). */
  L: number;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface FftConvRunParams {
  /** [B, H, L], with the plan's H and L. */
  u: Tensor;
  /** [H] */
  D?: Tensor;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function fftConv(backend: Backend, params: FftConvParams): Promise<{ y: Tensor }> {
  const a = validateFftConv(params);
  const { y } = await cancellable(checkSignal('fftConv', params.signal), (cancel) => backend.fftConv({ ...a, cancel }));
  return { y: tensor(y, [a.batch, a.channels, a.seqlen]) };
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
  async run(params: FftConvRunParams): Promise<{ y: Tensor }> {
    const a = validateFftConvRun(params, this.channels, this.length);
    const { y } = await cancellable(checkSignal('fftConvPlan.run', params.signal), (cancel) =>
      this.#backend.fftConv({
        ...a, channels: this.channels, seqlen: this.length, kernelLen: this.kernelLength, spectrum: this.#spectrum,
        algorithm: 'fft', cancel,
      }),
    );
    return { y: tensor(y, [a.batch, this.channels, this.length]) };
  }
}

export async function fftConvPlan(backend: Backend, params: FftConvPlanParams): Promise<FftConvPlan> {
  const a = validateFftConvPlan(params);
  const spectrum = await cancellable(checkSignal('fftConvPlan', params.signal), (cancel) =>
    backend.fftConvSpectrum({ ...a, cancel }),
  );
  return new FftConvPlan(backend, spectrum, a.channels, a.kernelLen, a.seqlen);
}
