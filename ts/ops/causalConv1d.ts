/**
 * causalConv1d — short causal depthwise convolution (the `causal_conv1d_fn` of Mamba blocks).
 *
 *   y[b,d,t] = act(bias[d] + Σ_{w<W} weight[d,w]·x̃[b,d,t−W+1+w]),  x̃ = initialState ⧺ x along time
 * finalState is the last W−1 columns of x̃, ready for causalConv1dStep. Widths 2 to 64.
 */
import type { Backend } from '../backend.js';
import { tensor, type Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { validateCausalConv1d } from '../validate.js';

export interface CausalConv1dParams {
  /** [B, D, L] */
  x: Tensor;
  /** [D, W] */
  weight: Tensor;
  /** [D] */
  bias?: Tensor;
  /** The W−1 inputs before x, [B, D, W−1]; zeros when absent. */
  initialState?: Tensor;
  /** null (default) or 'silu'. */
  activation?: 'silu' | null;
  /** Also return the last W−1 inputs, [B, D, W−1] (default false). */
  returnFinalState?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface CausalConv1dResult {
  /** [B, D, L] */
  y: Tensor;
  /** [B, D, W−1], present when returnFinalState was true. */
  finalState?: Tensor;
}

export async function causalConv1d(backend: Backend, params: CausalConv1dParams): Promise<CausalConv1dResult> {
  const a = validateCausalConv1d(params);
  const out = await cancellable(checkSignal('causalConv1d', params.signal), (cancel) => backend.causalConv1d({ ...a, cancel }));
  const result: CausalConv1dResult = { y: tensor(out.y, [a.batch, a.dim, a.seqlen]) };
  if (a.returnFinalState) result.finalState = tensor(out.finalState!, [a.batch, a.dim, a.width - 1]);
  return result;
}
