/**
 * ssdScan — Mamba-2's state-space-duality scan (mamba_ssm `mamba_chunk_scan_combined`).
 *
 * Per batch b and head h (group g = h / (H/G)), with Δ = clamp(softplus?(dt + dtBias), dtLimit):
 *   S_t = exp(Δ_t·A[h])·S_{t−1} + Δ_t·x_t ⊗ B_t   (S ∈ R^{P×N}, S_0 = initialState or 0)
 *   y_t = S_t·C_t + D·x_t,   then y_t ·= silu(z_t) when z is given.
 * Native and wasm compute it either as the chunked SSD form or as the recurrence (`algorithm`; 'auto' picks the
 * faster for the shape); the js reference is the recurrence. x, z, B and C may be bfloat16 (one dtype for the four;
 * y comes back in it; dt, A, D, dtBias and the states stay float32): cuda computes in float32 from bfloat16
 * storage, the CPU backends widen the inputs and round y.
 */
import type { Backend, Operand, SsdAlgorithm, SsdScanArgs } from '../backend.js';
import { cancellable, checkSignal } from '../cancel.js';
import type { Tensor } from '../tensor.js';
import { hostFloats, validateSsdScan } from '../validate.js';
import { inStorage, outputTensor, type FloatInput, type ScanInput } from './selectiveScan.js';

/** X: the type of x, z, B and C (float32 or bfloat16, host or device); F: the type of the float32 rest. */
export interface SsdScanParams<X extends ScanInput = Tensor, F extends FloatInput = Tensor> {
  /** [B, L, H, P]; on the device (cuda backend), the outputs stay there. */
  x: X;
  /** Step sizes before bias and softplus, [B, L, H]. */
  dt: F;
  /** One (negative) decay rate per head, [H]. */
  A: F;
  /** [B, L, G, N], H a multiple of G. */
  B: X;
  /** [B, L, G, N] */
  C: X;
  /** Skip term, [H] or [H, P]. */
  D?: F;
  /** Gate, [B, L, H, P]: y ·= z·sigmoid(z). */
  z?: X;
  /** [H] */
  dtBias?: F;
  /** [B, H, P, N]; zeros when absent. */
  initialState?: F;
  /** Softplus on dt + dtBias (default false; Mamba-2 uses true). */
  dtSoftplus?: boolean;
  /** Clamp Δ to [lo, hi] (default [0, Infinity]: none). */
  dtLimit?: [number, number];
  /** Tokens per chunk of the chunked form, 1 to 1024 (default 256). */
  chunkSize?: number;
  /** 'chunked', 'recurrent', or 'auto' (default): the same result, different speed. */
  algorithm?: SsdAlgorithm;
  /** Also return the state after the last token, [B, H, P, N] (default false). */
  returnFinalState?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SsdScanResult<Y = Tensor, S = Tensor> {
  /** [B, L, H, P] in x's dtype, on the device when x is. */
  y: Y;
  /** [B, H, P, N] float32, present when returnFinalState was true; on the device when x is. */
  finalState?: S;
}

export async function ssdScan(backend: Backend, params: SsdScanParams<ScanInput, FloatInput>): Promise<SsdScanResult<unknown, unknown>> {
  const { storage, onDevice, dPerDim, ...args } = validateSsdScan(params);
  const signal = checkSignal('ssdScan', params.signal);
  let out: { y: Operand; finalState?: Operand };
  if (backend.device) {
    const device = backend.device;
    out = await cancellable(signal, () => device.ssdScan({ ...args, dPerDim, storage, outputsOnDevice: onDevice }));
  } else {
    // CPU backends compute in float32: bfloat16 inputs are widened, and y is rounded back.
    const host = hostFloats<SsdScanArgs>('ssdScan', backend.name, args);
    const cpu = await cancellable(signal, (cancel) => backend.ssdScan({ ...host, cancel }));
    out = { y: inStorage(cpu.y, storage), finalState: cpu.finalState };
  }
  const result: SsdScanResult<unknown, unknown> = { y: outputTensor(out.y, storage, [args.batch, args.seqlen, args.heads, args.headDim]) };
  if (args.returnFinalState) {
    result.finalState = outputTensor(out.finalState!, 'float32', [args.batch, args.heads, args.headDim, args.dstate]);
  }
  return result;
}
