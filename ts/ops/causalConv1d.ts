/**
 * causalConv1d — short causal depthwise convolution (the `causal_conv1d_fn` of Mamba blocks).
 *
 *   y[b,d,t] = act(bias[d] + Σ_{w<W} weight[d,w]·x̃[b,d,t−W+1+w]),  x̃ = initialState ⧺ x along time
 * finalState is the last W−1 columns of x̃, ready for causalConv1dStep. Widths 2 to 64.
 */
import type { Backend, CausalConv1dArgs, Operand } from '../backend.js';
import type { DeviceTensor } from '../device.js';
import type { Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { hostFloats, validateCausalConv1d } from '../validate.js';
import { outputTensor, type FloatInput } from './selectiveScan.js';

export interface CausalConv1dParams<X extends FloatInput = Tensor, F extends FloatInput = Tensor> {
  /** [B, D, L] */
  x: X;
  /** [D, W] */
  weight: F;
  /** [D] */
  bias?: F;
  /** The W−1 inputs before x, [B, D, W−1]; zeros when absent. */
  initialState?: F;
  /** null (default) or 'silu'. */
  activation?: 'silu' | null;
  /** Also return the last W−1 inputs, [B, D, W−1] (default false). */
  returnFinalState?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface CausalConv1dResult<Y = Tensor> {
  /** [B, D, L], on the device when x is. */
  y: Y;
  /** [B, D, W−1], present when returnFinalState was true; on the device when x is. */
  finalState?: Y;
}

export async function causalConv1d(backend: Backend, params: CausalConv1dParams<FloatInput, FloatInput>): Promise<CausalConv1dResult<Tensor | DeviceTensor>> {
  const { onDevice, ...args } = validateCausalConv1d(params);
  const signal = checkSignal('causalConv1d', params.signal);
  let out: { y: Operand; finalState?: Operand };
  if (backend.device) {
    const device = backend.device;
    out = await cancellable(signal, () => device.causalConv1d({ ...args, storage: 'float32', outputsOnDevice: onDevice }));
  } else {
    const host = hostFloats<CausalConv1dArgs>('causalConv1d', backend.name, args);
    out = await cancellable(signal, (cancel) => backend.causalConv1d({ ...host, cancel }));
  }
  const result: CausalConv1dResult<Tensor | DeviceTensor> = {
    y: outputTensor(out.y, 'float32', [args.batch, args.dim, args.seqlen]) as Tensor | DeviceTensor,
  };
  if (args.returnFinalState) result.finalState = outputTensor(out.finalState!, 'float32', [args.batch, args.dim, args.width - 1]) as Tensor | DeviceTensor;
  return result;
}
