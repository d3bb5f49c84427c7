/**
 * deltaRule — DeltaNet and Gated DeltaNet (fla `chunk_gated_delta_rule` / `chunk_delta_rule`).
 *
 * Per batch b and value head hv (its q/k head is hv / (HV/H)), with state S ∈ R^{K×V}:
 *   S ← exp(g_t)·S;  v' = β_t·(v_t − Sᵀk_t);  S ← S + k_t v'ᵀ;  o_t = scale·Sᵀq_t
 * Without g it is plain DeltaNet (g = 0). With useQkL2Norm, q and k are first divided by √(Σx² + 1e-6) (fla's
 * `use_qk_l2norm_in_kernel`). Native and wasm compute it either as the chunked WY / UT-transform form or as a
 * fused recurrence (`algorithm`; 'auto' picks the faster for the shape); the js reference is the recurrence.
 */
import type { Backend, DeltaRuleAlgorithm } from '../backend.js';
import { tensor, type Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { validateDeltaRule } from '../validate.js';

export interface DeltaRuleParams {
  /** Queries, [B, T, H, K]. */
  q: Tensor;
  /** Keys, [B, T, H, K]. */
  k: Tensor;
  /** Values, [B, T, HV, V]; HV = m·H value heads share each q/k head (grouped value heads). */
  v: Tensor;
  /** Writing strength, [B, T, HV]. */
  beta: Tensor;
  /** Log-decay (≤ 0), [B, T, HV]: Gated DeltaNet. Absent: plain DeltaNet. */
  g?: Tensor;
  /** State at t = 0, [B, HV, K, V]; zeros when absent. */
  initialState?: Tensor;
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

export interface DeltaRuleResult {
  /** [B, T, HV, V] */
  o: Tensor;
  /** [B, HV, K, V], present when returnFinalState was true. */
  finalState?: Tensor;
}

export async function deltaRule(backend: Backend, params: DeltaRuleParams): Promise<DeltaRuleResult> {
  const a = validateDeltaRule(params);
  const out = await cancellable(checkSignal('deltaRule', params.signal), (cancel) => backend.deltaRule({ ...a, cancel }));
  const result: DeltaRuleResult = { o: tensor(out.o, [a.batch, a.seqlen, a.valueHeads, a.valueDim]) };
  if (a.returnFinalState) result.finalState = tensor(out.finalState!, [a.batch, a.valueHeads, a.keyDim, a.valueDim]);
  return result;
}
