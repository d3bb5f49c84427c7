/**
 * deltaRuleStep — one decode token of the delta rule for a batch of sequences.
 *
 * Advances `state` [B, HV, K, V] by one token **in place** and returns o [B, HV, V]; the math is deltaRule's
 * with T = 1 and initialState = state. If the call rejects (bad arguments), the state is left untouched.
 */
import type { Backend, DeltaRuleStepArgs, Operand } from '../backend.js';
import type { DeviceTensor } from '../device.js';
import type { Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { hostFloats, validateDeltaRuleStep } from '../validate.js';
import { outputTensor, type FloatInput } from './selectiveScan.js';

/** X: the type of every tensor, a host float32 Tensor or (cuda backend) a device tensor. */
export interface DeltaRuleStepParams<X extends FloatInput = Tensor> {
  /** [B, HV, K, V], updated in place. */
  state: X;
  /** [B, H, K] */
  q: X;
  /** [B, H, K] */
  k: X;
  /** [B, HV, V] */
  v: X;
  /** [B, HV] */
  beta: X;
  /** Log-decay, [B, HV] (Gated DeltaNet). */
  g?: X;
  /** Default K^-0.5. */
  scale?: number;
  useQkL2Norm?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function deltaRuleStep(backend: Backend, params: DeltaRuleStepParams<FloatInput>): Promise<{ o: Tensor | DeviceTensor }> {
  const { onDevice, ...args } = validateDeltaRuleStep(params);
  const signal = checkSignal('deltaRuleStep', params.signal);
  let o: Operand;
  if (backend.device) {
    const device = backend.device;
    ({ o } = await cancellable(signal, () => device.deltaRuleStep({ ...args, storage: 'float32', outputsOnDevice: onDevice })));
  } else {
    const host = hostFloats<DeltaRuleStepArgs>('deltaRuleStep', backend.name, args);
    ({ o } = await cancellable(signal, (cancel) => backend.deltaRuleStep({ ...host, cancel })));
  }
  return { o: outputTensor(o, 'float32', [args.batch, args.valueHeads, args.valueDim]) as Tensor | DeviceTensor };
}
