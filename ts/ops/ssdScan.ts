/**
 * ssdScan — Mamba-2's state-space-duality scan (mamba_ssm `mamba_chunk_scan_combined`).
 *
 * Per batch b and head h (group g = h / (H/G)), with Δ = clamp(softplus?(dt + dtBias), dtLimit):
 *   S_t = exp(Δ_t·A[h])·S_{t−1} + Δ_t·x_t ⊗ B_t   (S ∈ R^{P×N}, S_0 = initialState or 0)
 *   y_t = S_t·C_t + D·x_t,   then y_t ·= silu(z_t) when z is given.
 * Native and wasm compute it either as the chunked SSD form or as the recurrence (`algorithm`; 'auto' picks the
 * faster for the shape); the js reference is the recurrence.
 */
import type { Backend, SsdAlgorithm } from '../backend.js';
import { cancellable, checkSignal } from '../cancel.js';
import { tensor, type Tensor } from '../tensor.js';
import { validateSsdScan } from '../validate.js';

export interface SsdScanParams {
  /** [B, L, H, P] */
  x: Tensor;
  /** Step sizes before bias and softplus, [B, L, H]. */
  dt: Tensor;
  /** One (negative) decay rate per head, [H]. */
  A: Tensor;
  /** [B, L, G, N], H a multiple of G. */
  B: Tensor;
  /** [B, L, G, N] */
  C: Tensor;
  /** Skip term, [H] or [H, P]. */
  D?: Tensor;
  /** Gate, [B, L, H, P]: y ·= z·sigmoid(z). */
  z?: Tensor;
  /** [H] */
  dtBias?: Tensor;
  /** [B, H, P, N]; zeros when absent. */
  initialState?: Tensor;
  /** Softplus on dt + dtBias (default false; Mamba-2 uses true). */
  dtSoftplus?: boolean;
  /** Clamp Δ to [lo, hi] (default [0, Infinity]: none). */
  dtLimit?: [number, number];
  /** Tokens per chunk of the chunked form, 1 to 1024 (default 256). */
  chunkSize?: number;
  /** 'chunked', 'recurrent', or 'auto' (default): the same result, different speed. */
  algorithm?: SsdAlgorithm;
  /** Also return the state after the last token, [B, H, P, N] (default false). */
  returnFinalState?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SsdScanResult {
  /** [B, L, H, P] */
  y: Tensor;
  /** [B, H, P, N], present when returnFinalState was true. */
  finalState?: Tensor;
}

export async function ssdScan(backend: Backend, params: SsdScanParams): Promise<SsdScanResult> {
  const a = validateSsdScan(params);
  const out = await cancellable(checkSignal('ssdScan', params.signal), (cancel) => backend.ssdScan({ ...a, cancel }));
  const result: SsdScanResult = { y: tensor(out.y, [a.batch, a.seqlen, a.heads, a.headDim]) };
  if (a.returnFinalState) result.finalState = tensor(out.finalState!, [a.batch, a.heads, a.headDim, a.dstate]);
  return result;
}
