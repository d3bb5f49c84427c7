/**
 * deltaRuleStep — one decode token of the delta rule for a batch of sequences.
 *
 * Advances `state` [B, HV, K, V] by one token **in place** and returns o [B, HV, V]; the math is deltaRule's
 * with T = 1 and initialState = state. If the call rejects (bad arguments), the state is left untouched. q, k and v
 * may be bfloat16 (o comes back in it; the state stays float32), as in deltaRule.
 */
import type { Backend, DeltaRuleStepArgs, Operand } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { hostFloats, validateDeltaRuleStep } from '../validate.js';
import { inStorage, outputTensor, type FloatInput, type ScanInput } from './selectiveScan.js';

/** X: the type of q, k and v (float32 or bfloat16; o comes back in it); F: the type of the float32 rest. */
export interface DeltaRuleStepParams<X extends ScanInput = Tensor, F extends FloatInput = Tensor> {
  /** [B, HV, K, V], updated in place. */
  state: F;
  /** [B, H, K] */
  q: X;
  /** [B, H, K] */
  k: X;
  /** [B, HV, V] */
  v: X;
  /** [B, HV] */
  beta: F;
  /** Log-decay, [B, HV] (Gated DeltaNet). */
  g?: F;
  /** Default K^-0.5. */
  scale?: number;
  useQkL2Norm?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function deltaRuleStep(backend: Backend, params: DeltaRuleStepParams<ScanInput, FloatInput>): Promise<{ o: unknown }> {
  const { storage, onDevice, ...args } = validateDeltaRuleStep(params);
  const signal = checkSignal('deltaRuleStep', params.signal);
  let o: Operand;
  if (backend.device) {
    const device = backend.device;
    ({ o } = await cancellable(signal, () => device.deltaRuleStep({ ...args, storage, outputsOnDevice: onDevice })));
  } else {
    const host = hostFloats<DeltaRuleStepArgs>('deltaRuleStep', backend.name, args);
    const cpu = await cancellable(signal, (cancel) => backend.deltaRuleStep({ ...host, cancel }));
    o = inStorage(cpu.o, storage);
  }
  return { o: outputTensor(o, storage, [args.batch, args.valueHeads, args.valueDim]) };
}
