/**
 * ssdScanStep — one decode token of ssdScan for a batch of sequences.
 *
 * Advances `state` [B, H, P, N] by one token **in place** and returns y [B, H, P]; the math is ssdScan's with
 * L = 1 and initialState = state. If the call rejects (bad arguments), the state is left untouched.
 */
import type { Backend, Operand, SsdScanStepArgs } from '../backend.js';
import type { DeviceTensor } from '../device.js';
import { cancellable, checkSignal } from '../cancel.js';
import type { Tensor } from '../tensor.js';
import { hostFloats, validateSsdScanStep } from '../validate.js';
import { outputTensor, type FloatInput } from './selectiveScan.js';

export interface SsdScanStepParams<X extends FloatInput = Tensor, F extends FloatInput = Tensor> {
  /** [B, H, P, N], updated in place. */
  state: F;
  /** [B, H, P]; on the device (cuda backend), y stays there. */
  x: X;
  /** [B, H] */
  dt: F;
  /** [H] */
  A: F;
  /** [B, G, N] */
  B: F;
  /** [B, G, N] */
  C: F;
  /** [H] or [H, P] */
  D?: F;
  /** [B, H, P] */
  z?: F;
  /** [H] */
  dtBias?: F;
  dtSoftplus?: boolean;
  dtLimit?: [number, number];
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function ssdScanStep(backend: Backend, params: SsdScanStepParams<FloatInput, FloatInput>): Promise<{ y: Tensor | DeviceTensor }> {
  const { onDevice, dPerDim, ...args } = validateSsdScanStep(params);
  const signal = checkSignal('ssdScanStep', params.signal);
  let y: Operand;
  if (backend.device) {
    const device = backend.device;
    ({ y } = await cancellable(signal, () => device.ssdScanStep({ ...args, dPerDim, storage: 'float32', outputsOnDevice: onDevice })));
  } else {
    const host = hostFloats<SsdScanStepArgs>('ssdScanStep', backend.name, args);
    ({ y } = await cancellable(signal, (cancel) => backend.ssdScanStep({ ...host, cancel })));
  }
  return { y: outputTensor(y, 'float32', [args.batch, args.heads, args.headDim]) as Tensor | DeviceTensor };
}
