/**
 * selectiveScan — the Mamba-1 selective state-space scan (mamba_ssm `selective_scan_fn`).
 *
 * For each batch b, channel d and state n, with Δ = softplus?(delta + deltaBias):
 *   h_t[n] = exp(Δ_t·A[d,n])·h_{t-1}[n] + Δ_t·B_t[n]·u_t        (h_0 = initialState, or 0)
 *   y_t    = Σ_n C_t[n]·h_t[n] + D[d]·u_t,   then y_t ·= silu(z_t) when z is given.
 * With groups (B, C of shape [B, G, N, L]), channel d reads group d / (D/G).
 *
 * u, delta, z, B and C may be bfloat16 (one dtype for all five; y comes back in it, A, D, deltaBias and the
 * states stay float32, as in mamba_ssm). On the cuda backend every tensor may also be a device tensor; y and
 * finalState are then device tensors too when u is one.
 */
import type { Backend, Operand, SelectiveScanArgs } from '../backend.js';
import { DeviceTensor } from '../device.js';
import { floatsToBFloat16, tensor, type DType, type Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { hostFloats, validateSelectiveScan } from '../validate.js';

/** A tensor of the scan's storage dtype: float32 or bfloat16, on the host or (cuda backend) the device. */
export type ScanInput = Tensor | Tensor<'bfloat16'> | DeviceTensor;
/** A float32 tensor on the host or the device. */
export type FloatInput = Tensor | DeviceTensor<'float32'>;
/** The type of an output that follows `U` (u, or the step's x): its dtype, on the host or the device. */
export type OutputLike<U> = U extends DeviceTensor<infer D> ? DeviceTensor<D> : U extends Tensor<'bfloat16'> ? Tensor<'bfloat16'> : Tensor;
/** A float32 state next to `U`: on the device when U is. */
export type StateLike<U> = U extends DeviceTensor ? DeviceTensor<'float32'> : Tensor;

/**
 * U: the type of u, delta, z, B and C; F: the type of A, D, deltaBias and initialState. The defaults are host
 * float32 tensors; bfloat16 and device tensors are inferred where the call passes them.
 */
export interface SelectiveScanParams<U extends ScanInput = Tensor, F extends FloatInput = Tensor> {
  /** Input, [B, D, L]. */
  u: U;
  /** Step sizes before bias and softplus, [B, D, L]. */
  delta: U;
  /** State matrix, [D, N] (negative in trained models). */
  A: F;
  /** Input projection, [B, N, L] or [B, G, N, L]. */
  B: U;
  /** Output projection, same shape as B. */
  C: U;
  /** Skip connection, [D]. */
  D?: F;
  /** Gate, [B, D, L]: y ·= z·sigmoid(z). */
  z?: U;
  /** Added to delta before softplus, [D]. */
  deltaBias?: F;
  /** State at t = 0, [B, D, N]; zeros when absent. */
  initialState?: F;
  /** Apply softplus to delta + deltaBias (default false; Mamba uses true). */
  deltaSoftplus?: boolean;
  /** Also return the state after the last step, [B, D, N] (default false). */
  returnFinalState?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SelectiveScanResult<Y = Tensor, S = Tensor> {
  /** [B, D, L], in u's dtype, on the device when u is. */
  y: Y;
  /** [B, D, N] float32, present when returnFinalState was true. */
  finalState?: S;
}

/** A CPU backend's float32 output in the op's storage dtype: rounded to bfloat16 where the inputs were. */
export function inStorage(floats: Float32Array, storage: DType): Float32Array | Uint16Array {
  return storage === 'bfloat16' ? floatsToBFloat16(floats) : floats;
}

/** An output as the caller gets it: a device tensor as is, host data as a Tensor of its dtype. */
export function outputTensor(out: Operand, dtype: DType, shape: readonly number[]): Tensor | Tensor<'bfloat16'> | DeviceTensor {
  if (out instanceof DeviceTensor) return out;
  return dtype === 'bfloat16' ? tensor(out as Uint16Array, shape, 'bfloat16') : tensor(out as Float32Array, shape);
}

export async function selectiveScan(backend: Backend, params: SelectiveScanParams<ScanInput, FloatInput>): Promise<SelectiveScanResult<unknown, unknown>> {
  const { storage, onDevice, ...args } = validateSelectiveScan(params);
  const signal = checkSignal('selectiveScan', params.signal);
  const yShape = [args.batch, args.dim, args.seqlen];
  const stateShape = [args.batch, args.dim, args.dstate];
  let out: { y: Operand; finalState?: Operand };
  if (backend.device) {
    const device = backend.device;
    out = await cancellable(signal, () => device.selectiveScan({ ...args, storage, outputsOnDevice: onDevice }));
  } else {
    // CPU backends compute in float32: bfloat16 inputs are widened, and y is rounded back.
    const host = hostFloats<SelectiveScanArgs>('selectiveScan', backend.name, args);
    const cpu = await cancellable(signal, (cancel) => backend.selectiveScan({ ...host, cancel }));
    out = { y: inStorage(cpu.y, storage), finalState: cpu.finalState };
  }
  const result: SelectiveScanResult<unknown, unknown> = { y: outputTensor(out.y, storage, yShape) };
  if (args.returnFinalState) result.finalState = outputTensor(out.finalState!, 'float32', stateShape);
  return result;
}
