/**
 * causalConv1dStep — one decode token of causalConv1d (`causal_conv1d_update`).
 *
 * `state` [B, D, W−1] holds the last W−1 inputs; the step computes y [B, D] from them and x, then shifts x into
 * the state **in place**. If the call rejects (bad arguments), the state is left untouched.
 */
import type { Backend, CausalConv1dStepArgs, Operand } from '../backend.js';
import type { DeviceTensor } from '../device.js';
import type { Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { hostFloats, validateCausalConv1dStep } from '../validate.js';
import { outputTensor, type FloatInput } from './selectiveScan.js';

export interface CausalConv1dStepParams<X extends FloatInput = Tensor, F extends FloatInput = Tensor> {
  /** [B, D, W−1], updated in place. */
  state: F;
  /** [B, D] */
  x: X;
  /** [D, W] */
  weight: F;
  /** [D] */
  bias?: F;
  activation?: 'silu' | null;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function causalConv1dStep(backend: Backend, params: CausalConv1dStepParams<FloatInput, FloatInput>): Promise<{ y: Tensor | DeviceTensor }> {
  const { onDevice, ...args } = validateCausalConv1dStep(params);
  const signal = checkSignal('causalConv1dStep', params.signal);
  let y: Operand;
  if (backend.device) {
    const device = backend.device;
    ({ y } = await cancellable(signal, () => device.causalConv1dStep({ ...args, storage: 'float32', outputsOnDevice: onDevice })));
  } else {
    const host = hostFloats<CausalConv1dStepArgs>('causalConv1dStep', backend.name, args);
    ({ y } = await cancellable(signal, (cancel) => backend.causalConv1dStep({ ...host, cancel })));
  }
  return { y: outputTensor(y, 'float32', [args.batch, args.dim]) as Tensor | DeviceTensor };
}
