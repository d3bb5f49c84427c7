/**
 * causalConv1dStep — one decode token of causalConv1d (`causal_conv1d_update`).
 *
 * `state` [B, D, W−1] holds the last W−1 inputs; the step computes y [B, D] from them and x, then shifts x into
 * the state **in place**. If the call rejects (bad arguments), the state is left untouched.
 */
import type { Backend } from '../backend.js';
import { tensor, type Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { validateCausalConv1dStep } from '../validate.js';

export interface CausalConv1dStepParams {
  /** [B, D, W−1], updated in place. */
  state: Tensor;
  /** [B, D] */
  x: Tensor;
  /** [D, W] */
  weight: Tensor;
  /** [D] */
  bias?: Tensor;
  activation?: 'silu' | null;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function causalConv1dStep(backend: Backend, params: CausalConv1dStepParams): Promise<{ y: Tensor }> {
  const a = validateCausalConv1dStep(params);
  const out = await cancellable(checkSignal('causalConv1dStep', params.signal), (cancel) =>
    backend.causalConv1dStep({ ...a, cancel }),
  );
  return { y: tensor(out.y, [a.batch, a.dim]) };
}
