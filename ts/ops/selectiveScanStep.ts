/**
 * selectiveScanStep — one decode step of the selective scan (mamba_ssm `selective_state_update`).
 *
 * Advances `state` [B, D, N] by one token **in place** and returns y [B, D]; the math is selectiveScan's with
 * L = 1 and initialState = state. If the call rejects (bad arguments), the state is left untouched.
 *
 * x, delta, z, B and C may be bfloat16 (y comes back in it); the state is float32. On the cuda backend every
 * tensor may be a device tensor (a device state is updated in place on the device, the decode loop's case);
 * y is a device tensor when x is.
 */
import type { Backend, Operand, SelectiveScanStepArgs } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { hostFloats, validateSelectiveScanStep } from '../validate.js';
import { inStorage, outputTensor, type FloatInput, type ScanInput } from './selectiveScan.js';

/** U: the type of x, delta, z, B and C; F: the type of state, A, D and deltaBias (see SelectiveScanParams). */
export interface SelectiveScanStepParams<U extends ScanInput = Tensor, F extends FloatInput = Tensor> {
  /** [B, D, N] float32, updated in place. */
  state: F;
  /** This token's input, [B, D]. */
  x: U;
  /** [B, D] */
  delta: U;
  /** [D, N] */
  A: F;
  /** [B, N] or [B, G, N] */
  B: U;
  /** Same shape as B. */
  C: U;
  /** [D] */
  D?: F;
  /** [B, D] */
  z?: U;
  /** [D] */
  deltaBias?: F;
  deltaSoftplus?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function selectiveScanStep(backend: Backend, params: SelectiveScanStepParams<ScanInput, FloatInput>): Promise<{ y: unknown }> {
  const { storage, onDevice, ...args } = validateSelectiveScanStep(params);
  const signal = checkSignal('selectiveScanStep', params.signal);
  let y: Operand;
  if (backend.device) {
    const device = backend.device;
    y = (await cancellable(signal, () => device.selectiveScanStep({ ...args, storage, outputsOnDevice: onDevice }))).y;
  } else {
    const host = hostFloats<SelectiveScanStepArgs>('selectiveScanStep', backend.name, args);
    const cpu = await cancellable(signal, (cancel) => backend.selectiveScanStep({ ...host, cancel }));
    y = inStorage(cpu.y, storage);
  }
  return { y: outputTensor(y, storage, [args.batch, args.dim]) };
}
