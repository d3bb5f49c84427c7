/**
 * deltaRule — DeltaNet and Gated DeltaNet (fla `chunk_gated_delta_rule` / `chunk_delta_rule`).
 *
 * Per batch b and value head hv (its q/k head is hv / (HV/H)), with state S ∈ R^{K×V}:
 *   S ← exp(g_t)·S;  v' = β_t·(v_t − Sᵀk_t);  S ← S + k_t v'ᵀ;  o_t = scale·Sᵀq_t
 * Without g it is plain DeltaNet (g = 0). With useQkL2Norm, q and k are first divided by √(Σx² + 1e-6) (fla's
 * `use_qk_l2norm_in_kernel`). Native and wasm compute it either as the chunked WY / UT-transform form or as a
 * fused recurrence (`algorithm`; 'auto' picks the faster for the shape); the js reference is the recurrence. cuda
 * has both too, with host or device tensors: the chunked form (64-token chunks whatever chunkSize says, products
 * on tensor cores at float32 accuracy) for K ≤ 128 past one chunk under 'auto', the recurrence otherwise (K ≤ 256).
 */
import type { Backend, DeltaRuleAlgorithm, DeltaRuleArgs, Operand } from '../backend.js';
import type { DeviceTensor } from '../device.js';
import type { Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { hostFloats, validateDeltaRule } from '../validate.js';
import { outputTensor, type FloatInput } from './selectiveScan.js';

/** X: the type of every tensor, a host float32 Tensor or (cuda backend) a device tensor. */
export interface DeltaRuleParams<X extends FloatInput = Tensor> {
  /** Queries, [B, T, H, K]. */
  q: X;
  /** Keys, [B, T, H, K]. */
  k: X;
  /** Values, [B, T, HV, V]; HV = m·H value heads share each q/k head (grouped value heads). */
  v: X;
  /** Writing strength, [B, T, HV]. */
  beta: X;
  /** Log-decay (≤ 0), [B, T, HV]: Gated DeltaNet. Absent: plain DeltaNet. */
  g?: X;
  /** State at t = 0, [B, HV, K, V]; zeros when absent. */
  initialState?: X;
  /** Output scale (default K^-0.5). */
  scale?: number;
  /** Tokens per chunk of the chunked form: 16, 32 or 64 (default 64). */
  chunkSize?: 16 | 32 | 64;
  /** L2-normalise q and k inside the op (default false). */
  useQkL2Norm?: boolean;
  /** 'chunked', 'recurrent', or 'auto' (default): the same result, different speed. */
  algorithm?: DeltaRuleAlgorithm;
  /** Also return the state after the last token, [B, HV, K, V] (default false). */
  returnFinalState?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface DeltaRuleResult<Y = Tensor> {
  /** [B, T, HV, V], on the device when q is. */
  o: Y;
  /** [B, HV, K, V], present when returnFinalState was true; on the device when q is. */
  finalState?: Y;
}

export async function deltaRule(backend: Backend, params: DeltaRuleParams<FloatInput>): Promise<DeltaRuleResult<Tensor | DeviceTensor>> {
  const { onDevice, ...args } = validateDeltaRule(params);
  const signal = checkSignal('deltaRule', params.signal);
  let out: { o: Operand; finalState?: Operand };
  if (backend.device) {
    const device = backend.device;
    out = await cancellable(signal, () => device.deltaRule({ ...args, storage: 'float32', outputsOnDevice: onDevice }));
  } else {
    const host = hostFloats<DeltaRuleArgs>('deltaRule', backend.name, args);
    out = await cancellable(signal, (cancel) => backend.deltaRule({ ...host, cancel }));
  }
  const result: DeltaRuleResult<Tensor | DeviceTensor> = {
    o: outputTensor(out.o, 'float32', [args.batch, args.seqlen, args.valueHeads, args.valueDim]) as Tensor | DeviceTensor,
  };
  if (args.returnFinalState) {
    result.finalState = outputTensor(out.finalState!, 'float32', [args.batch, args.valueHeads, args.keyDim, args.valueDim]) as Tensor | DeviceTensor;
  }
  return result;
}
