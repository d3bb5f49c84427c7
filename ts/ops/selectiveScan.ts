/**
 * selectiveScan — the Mamba-1 selective state-space scan (mamba_ssm `selective_scan_fn`).
 *
 * For each batch b, channel d and state n, with Δ = softplus?(delta + deltaBias):
 *   h_t[n] = exp(Δ_t·A[d,n])·h_{t-1}[n] + Δ_t·B_t[n]·u_t        (h_0 = initialState, or 0)
 *   y_t    = Σ_n C_t[n]·h_t[n] + D[d]·u_t,   then y_t ·= silu(z_t) when z is given.
 * With groups (B, C of shape [B, G, N, L]), channel d reads group d / (D/G).
 */
import type { Backend } from '../backend.js';
import { tensor, type Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { validateSelectiveScan } from '../validate.js';

export interface SelectiveScanParams {
  /** Input, [B, D, L]. */
  u: Tensor;
  /** Step sizes before bias and softplus, [B, D, L]. */
  delta: Tensor;
  /** State matrix, [D, N] (negative in trained models). */
  A: Tensor;
  /** Input projection, [B, N, L] or [B, G, N, L]. */
  B: Tensor;
  /** Output projection, same shape as B. */
  C: Tensor;
  /** Skip connection, [D]. */
  D?: Tensor;
  /** Gate, [B, D, L]: y ·= z·sigmoid(z). */
  z?: Tensor;
  /** Added to delta before softplus, [D]. */
  deltaBias?: Tensor;
  /** State at t = 0, [B, D, N]; zeros when absent. */
  initialState?: Tensor;
  /** Apply softplus to delta + deltaBias (default false; Mamba uses true). */
  deltaSoftplus?: boolean;
  /** Also return the state after the last step, [B, D, N] (default false). */
  returnFinalState?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SelectiveScanResult {
  /** [B, D, L] */
  y: Tensor;
  /** [B, D, N], present when returnFinalState was true. */
  finalState?: Tensor;
}

export async function selectiveScan(backend: Backend, params: SelectiveScanParams): Promise<SelectiveScanResult> {
  const args = validateSelectiveScan(params);
  const out = await cancellable(checkSignal('selectiveScan', params.signal), (cancel) => backend.selectiveScan({ ...args, cancel }));
  const result: SelectiveScanResult = { y: tensor(out.y, [args.batch, args.dim, args.seqlen]) };
  if (args.returnFinalState) result.finalState = tensor(out.finalState!, [args.batch, args.dim, args.dstate]);
  return result;
}
