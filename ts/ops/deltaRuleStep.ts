/**
 * deltaRuleStep — one decode token of the delta rule for a batch of sequences.
 *
 * Advances `state` [B, HV, K, V] by one token **in place** and returns o [B, HV, V]; the math is deltaRule's
 * with T = 1 and initialState = state. If the call rejects (bad arguments), the state is left untouched.
 */
import type { Backend } from '../backend.js';
import { tensor, type Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { validateDeltaRuleStep } from '../validate.js';

export interface DeltaRuleStepParams {
  /** [B, HV, K, V], updated in place. */
  state: Tensor;
  /** [B, H, K] */
  q: Tensor;
  /** [B, H, K] */
  k: Tensor;
  /** [B, HV, V] */
  v: Tensor;
  /** [B, HV] */
  beta: Tensor;
  /** Log-decay, [B, HV] (Gated DeltaNet). */
  g?: Tensor;
  /** Default K^-0.5. */
  scale?: number;
  useQkL2Norm?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function deltaRuleStep(backend: Backend, params: DeltaRuleStepParams): Promise<{ o: Tensor }> {
  const a = validateDeltaRuleStep(params);
  const out = await cancellable(checkSignal('deltaRuleStep', params.signal), (cancel) => backend.deltaRuleStep({ ...a, cancel }));
  return { o: tensor(out.o, [a.batch, a.valueHeads, a.valueDim]) };
}
