/**
 * selectiveScanStep — one decode step of the selective scan (mamba_ssm `selective_state_update`).
 *
 * Advances `state` [B, D, N] by one token **in place** and returns y [B, D]; the math is selectiveScan's with
 * L = 1 and initialState = state. If the call rejects (bad arguments), the state is left untouched.
 */
import type { Backend } from '../backend.js';
import { tensor, type Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { validateSelectiveScanStep } from '../validate.js';

export interface SelectiveScanStepParams {
  /** [B, D, N], updated in place. */
  state: Tensor;
  /** This token's input, [B, D]. */
  x: Tensor;
  /** [B, D] */
  delta: Tensor;
  /** [D, N] */
  A: Tensor;
  /** [B, N] or [B, G, N] */
  B: Tensor;
  /** Same shape as B. */
  C: Tensor;
  /** [D] */
  D?: Tensor;
  /** [B, D] */
  z?: Tensor;
  /** [D] */
  deltaBias?: Tensor;
  deltaSoftplus?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function selectiveScanStep(backend: Backend, params: SelectiveScanStepParams): Promise<{ y: Tensor }> {
  const args = validateSelectiveScanStep(params);
  const out = await cancellable(checkSignal('selectiveScanStep', params.signal), (cancel) =>
    backend.selectiveScanStep({ ...args, cancel }),
  );
  return { y: tensor(out.y, [args.batch, args.dim]) };
}
